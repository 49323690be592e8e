"""A client's data rights in one service: export everything held about them, and erasure.

Each service names where it holds a client's documents (`Holding`s: a collection, the
field naming the client, how to open sealed values, and what erasure does) and `app.py`
puts a `ClientData` on `app.state.data_rights`; the admin routes of `router` use it:

    GET  /v1/admin/clients/{client_id}/export    everything held, decrypted, stable shape
    POST /v1/admin/clients/{client_id}/erasure   {"reason": ...}: shred, delete, retain

Erasure destroys the client's data key first (crypto-shredding: every copy of their
sealed values, backups included, becomes unreadable), then deletes what need not be
kept, and flags what the law makes the service keep with `retained: {basis, until}`.
A document that still has unpublished events is left for a second run (`pending`); the
erasure is idempotent. Its own record (`erasures`, `_id = client_id`: when, by whom, why)
is kept as proof of the erasure.

Listings filter on the client field: on FerretDB that reads the collection (DESIGN §5),
acceptable for a rare admin request, never on a hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from shared.events.common import ID_PATTERN
from shared.http.dependencies import Admin, Audit
from shared.observability.audit import Access
from shared.observability.logs import get_logger
from shared.ports import Clock, Documents
from shared.refusals import NotFound
from shared.security.client_keys import ClientKeys
from shared.security.field_encryption import FieldCipher
from shared.storage import Document
from shared.storage.documents import Revision

log = get_logger(__name__)

ERASURES = "erasures"
RETAINED = "retained"

Opener = Callable[[Document, FieldCipher], Document]
"""A stored document as the client gave it: sealed values opened (erased ones as None)."""


@dataclass(frozen=True, slots=True)
class Retention:
    """Why a document outlives its client's erasure, and for how long."""

    basis: str
    years: int

    def flag(self, now: datetime) -> dict[str, str]:
        return {"basis": self.basis, "until": (now + timedelta(days=365 * self.years)).date().isoformat()}


@dataclass(frozen=True, slots=True)
class Holding:
    """Where a service holds documents about a client, and what erasure does with them.

    `field` names the client (`_id`: the document keyed by the client's id). Erasure
    deletes a document unless `retain` says why it is kept (and `kept` says which are:
    None keeps all); a kept document may first be reduced by `scrub`.
    """

    store: Documents
    field: str = "client_id"
    retain: Retention | None = None
    kept: Callable[[Document], bool] | None = None
    scrub: Callable[[Document], Document] | None = None
    open: Opener | None = None

    @property
    def name(self) -> str:
        return self.store.name

    async def documents(self, client_id: str) -> list[Document]:
        if self.field == "_id":
            found = await self.store.get(client_id)
            return [] if found is None else [found]
        return await self.store.find({self.field: client_id})

    def keeps(self, document: Document) -> bool:
        return self.retain is not None and (self.kept is None or self.kept(document))


@dataclass(slots=True)
class ClientData:
    """What one service holds about clients, and the keys their values are sealed with."""

    service: str
    holdings: Sequence[Holding]
    erasures: Documents
    clock: Clock
    keys: ClientKeys | None = None
    cipher_of: Callable[[], FieldCipher] | None = None
    erasure_record: Retention = field(
        default_factory=lambda: Retention("proof of erasure (GDPR Art. 5(2), 17)", years=6)
    )

    async def export(self, client_id: str) -> dict[str, Any] | None:
        """Everything held about the client, sealed values opened; None when nothing is held."""
        cipher = await self._reader(client_id)
        records: dict[str, list[Document]] = {}
        for holding in self.holdings:
            found = await holding.documents(client_id)
            if found and holding.open is not None:
                if cipher is None:
                    raise RuntimeError(f"{self.service}: {holding.name} is sealed but no cipher is wired")
                found = [holding.open(document, cipher) for document in found]
            records[holding.name] = found
        erasure = await self.erasures.get(client_id)
        records[ERASURES] = [] if erasure is None else [erasure]
        if not any(records.values()):
            return None
        return {
            "service": self.service,
            "client_id": client_id,
            "exported_at": self.clock(),
            "records": records,
        }

    async def erase(self, client_id: str, *, reason: str, by: str) -> dict[str, Any]:
        """Shred the client's key, delete what need not be kept, flag what must be; the report."""
        now = self.clock()
        shredded = await self.keys.destroy(client_id) if self.keys is not None else False
        deleted: dict[str, list[str]] = {}
        retained: dict[str, dict[str, Any]] = {}
        pending: dict[str, list[str]] = {}
        for holding in self.holdings:
            for document in await holding.documents(client_id):
                document_id = str(document["_id"])
                if holding.keeps(document):
                    assert holding.retain is not None
                    flag = holding.retain.flag(now)
                    await holding.store.update(document_id, _retained(flag, holding.scrub))
                    kept = retained.setdefault(holding.name, {**flag, "ids": []})
                    kept["ids"].append(document_id)
                    continue
                try:
                    await holding.store.delete(document_id)
                    deleted.setdefault(holding.name, []).append(document_id)
                except ValueError:  # unpublished events: the relay sends them, a second run deletes it
                    pending.setdefault(holding.name, []).append(document_id)
        flag = self.erasure_record.flag(now)
        record = {"erased_at": now, "by": by, "reason": reason, RETAINED: flag}
        await self.erasures.upsert(client_id, lambda _current: Revision(record))
        retained[ERASURES] = {**flag, "ids": [client_id]}
        log.info(
            "client data erased",
            client_id=client_id,
            deleted=sum(len(ids) for ids in deleted.values()),
            retained=sum(len(kept["ids"]) for kept in retained.values()),
        )
        return {
            "service": self.service,
            "client_id": client_id,
            "erased_at": now,
            "shredded": {"client_key": shredded},
            "deleted": deleted,
            "retained": retained,
            "pending": pending,
        }

    async def _reader(self, client_id: str) -> FieldCipher | None:
        if self.keys is not None:
            return await self.keys.reader_for(client_id)
        return None if self.cipher_of is None else self.cipher_of()


def _retained(flag: Mapping[str, str], scrub: Callable[[Document], Document] | None) -> Any:
    def change(current: Document) -> Revision:
        kept = scrub(current) if scrub is not None else current
        return Revision({**kept, RETAINED: dict(flag)})

    return change


# ---------------------------------------------------------------------- the admin routes

ClientIdPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=128, description="the client's id")]


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(
        min_length=3,
        max_length=500,
        description="Why the client's data is erased (e.g. the ticket of their request); kept as proof",
        examples=["GDPR Art. 17 request, ticket DPO-1234"],
    )


class DataExport(BaseModel):
    service: str
    client_id: str
    exported_at: datetime
    records: dict[str, list[dict[str, Any]]] = Field(
        description="Per collection, every document held about the client, sealed values opened"
    )


class RetainedItems(BaseModel):
    basis: str
    until: str
    ids: list[str]


class ErasureReport(BaseModel):
    service: str
    client_id: str
    erased_at: datetime
    shredded: dict[str, bool] = Field(description="`client_key`: whether the client's data key was destroyed")
    deleted: dict[str, list[str]] = Field(description="Per collection, the ids deleted")
    retained: dict[str, RetainedItems] = Field(description="Per collection, what is kept, why and until when")
    pending: dict[str, list[str]] = Field(
        description="Documents with unpublished events, left for a second run of the erasure"
    )


def _data_of(request: Request) -> ClientData:
    found: ClientData | None = getattr(request.app.state, "data_rights", None)
    if found is None:
        raise RuntimeError("app.state.data_rights is not set; wire a ClientData in app.py")
    return found


router = APIRouter(prefix="/admin/clients", tags=["data rights"])


@router.get("/{client_id}/export", response_model=DataExport)
async def export_client_data(client_id: ClientIdPath, who: Admin, audit: Audit, request: Request) -> Any:
    """Everything this service holds about the client, decrypted (admins only; audited)."""
    exported = await _data_of(request).export(client_id)
    if exported is None:
        raise NotFound("nothing is held about this client")
    await audit.read(resource="client_data_export", resource_id=client_id, client_id=client_id, basis="admin")
    return jsonable_encoder(exported)


@router.post("/{client_id}/erasure", response_model=ErasureReport)
async def erase_client_data(
    client_id: ClientIdPath, erasure: ErasureRequest, who: Admin, audit: Audit, request: Request
) -> Any:
    """Erase the client: destroy their data key, delete what need not be kept, flag what must be.

    Admins only; audited before it starts. Running it again is harmless.
    """
    await audit.log.record(
        Access(
            actor=who.subject,
            role=who.role.value,
            action="erase",
            resource="client_data",
            resource_id=client_id,
            client_id=client_id,
            correlation_id=audit.correlation_id,
            basis="admin",
        )
    )
    report = await _data_of(request).erase(client_id, reason=erasure.reason, by=who.subject)
    return jsonable_encoder(report)
