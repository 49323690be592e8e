"""Matching's own Prometheus metrics, beside the shared ones on `GET /metrics`.

Worth alerting on: `carepath_matching_proposals_total{outcome="empty"}` rising (clients
nobody can take: licensure, language or capacity gaps; they wait on the waitlist),
`carepath_matching_waitlist_rematches_total{outcome="still_waiting"}` far above
`{outcome="matched"}` (triggers that find room for nobody), and ranking seconds growing
with the directory.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PROPOSALS = Counter(
    "carepath_matching_proposals_total",
    "Proposals, by origin (intake, decline, switch, booking_failed, expired, waitlist) and outcome "
    "(proposed, empty, none_made: a waitlist re-match that found nobody and published nothing).",
    ["origin", "outcome"],
)
WAITLIST_REMATCHES = Counter(
    "carepath_matching_waitlist_rematches_total",
    "Waiting clients re-matched by a trigger, by outcome (matched, still_waiting).",
    ["outcome"],
)
HOLDS_REFUSED = Counter(
    "carepath_matching_holds_refused_total",
    "Holds refused on a therapist's fresh document (filled or changed by another replica meanwhile).",
)
RANKING_SECONDS = Histogram(
    "carepath_matching_ranking_seconds",
    "Time to rank the directory for one proposal (in process, no I/O).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
DIRECTORY_SIZE = Gauge("carepath_matching_directory_therapists", "Therapists in this replica's read model.")
