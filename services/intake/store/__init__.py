"""The intake service's collections and their document shapes, all keyed for `_id` reads.

- `clients`: `_id = client_id`, the client's record: the ids of their intakes and
  check-ins, their care relationships (folded from matching's and scheduling's events),
  their latest plan version and when they acknowledged each version;
- `intakes`: `_id = intake_id`, drafts and submitted intakes with their scores;
- `treatment_plans`: `_id = "<client_id>:v<n>"`, one document per plan version;
- `check_ins`: `_id = check_in_id` (the id scheduling gave it in `check-in-due`); its
  expiry timer (`timers.check_in_expiry_timer_id`) lives in the runtime's `timers`.

FerretDB serves only a lone string `_id` equality from an index (DESIGN §5), so every
hot-path read goes through one of these keys; nothing here filters on another field.
"""

from __future__ import annotations

CLIENTS = "clients"
INTAKES = "intakes"
TREATMENT_PLANS = "treatment_plans"
CHECK_INS = "check_ins"
