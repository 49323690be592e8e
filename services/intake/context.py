"""What the intake service's commands, handlers, timers and routes use, built once by `app.py`.

The stores are the `Documents` and `Timers` ports (the in-memory fakes in unit tests), the
clock is the domain clock, and the settings values are those commands decide with. The
field cipher is built on first use: `__main__` asks for it at start, so a service without
keys refuses to start, while building the app (e.g. for the API documents) needs none.
A client's free text is sealed with the client's own data key (`cipher_for`), so their
erasure destroys it everywhere (crypto-shredding, `shared/security/client_keys.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from shared.ports import Clock, Documents, Timers
from shared.security.client_keys import ClientKeys
from shared.security.field_encryption import FieldCipher


@dataclass(frozen=True, slots=True)
class IntakeContext:
    clients: Documents
    """`clients`: each client's record (ids, care relationships, plan version, acknowledgements)."""
    intakes: Documents
    plans: Documents
    """`treatment_plans`: one document per plan version."""
    check_ins: Documents
    timers: Timers
    clock: Clock
    cipher_of: Callable[[], FieldCipher]
    """The field cipher for free text at rest (the runtime's, built from `FIELD_ENCRYPTION_*`)."""
    served_countries: tuple[str, ...]
    """`INTAKE_SERVED_COUNTRIES`: the countries intakes are accepted from."""
    check_in_expiry: timedelta
    """`INTAKE_CHECK_IN_EXPIRY_DAYS`: how long after it fell due a check-in stays open."""

    client_keys: ClientKeys | None = None
    """The clients' data keys (`client_keys`); None (unit tests): the master cipher seals all."""

    @property
    def cipher(self) -> FieldCipher:
        """The master cipher: opens values sealed before clients had keys of their own."""
        return self.cipher_of()

    async def cipher_for(self, client_id: str) -> FieldCipher:
        """The cipher sealing and opening `client_id`'s free text (their key is made on first need)."""
        if self.client_keys is None:
            return self.cipher
        return await self.client_keys.cipher_for(client_id)

    async def reader_for(self, client_id: str) -> FieldCipher:
        """The cipher opening `client_id`'s free text, making no key (an erased value reads as None)."""
        if self.client_keys is None:
            return self.cipher
        return await self.client_keys.reader_for(client_id)
