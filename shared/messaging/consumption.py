"""At-least-once in, exactly once in effect: the one consume pipeline (DESIGN §4).

Registered once per broker as a FastStream middleware, it wraps every handler:

1. refuse a record bigger than `MAX_RECORD_BYTES` unread (`oversized_record`: no event
   comes near it, and parsing a megabyte of someone's JSON is work for nothing); read the
   CloudEvents envelope, check that its type and source are the topic's (a
   `ce_source` other than the registry's producer is a forgery or a misrouted event:
   `unexpected_source`) and validate the data against the topic's event model; a record
   that can never be valid goes to `<topic>.dlq` at once;
2. skip an event whose id the inbox has seen (a redelivery changes nothing twice);
3. run the handler, retrying handler failures with exponential backoff up to a bound;
   `PermanentError`, a command's `Refused` (no redelivery can make it fit), or the bound
   sends the record to the dead-letter topic;
4. note the event id in the inbox, which stores the noted ids in one write just before
   offsets are committed past them.

An outage is not poison: an infrastructure failure (the database unreachable or timing
out, a not-primary answer, a document lease that stays held) in any step is retried with
capped backoff for as long as it lasts, without counting toward the handler's bound;
meanwhile `stalled` is true (readiness answers 503) and nothing is committed. On
shutdown such a wait gives up and the record is redelivered later.

Concurrency: records of one key (a client, a therapist) are handled one at a time, in
order; records of different keys run at once, up to `in_flight` per consumer. Handling a
partition's records one after another left the process waiting on one round trip at a time,
and the writes of concurrent records share round trips (lease inserts in one `insert_many`,
releases in one delete). Order across keys was never promised: partitions already run
concurrently, in other consumers and replicas.

Offsets: a record is reported done (`offsets.OffsetCommitter`) only when its effects (or its
dead letter) are stored; a partition is committed up to its lowest record still in flight,
on an interval, on revocation (after its records in flight finish) and on shutdown. If even
the dead letter cannot be written, the record is tried again after a pause, and nothing
after it is committed meanwhile. A stopping service starts no new record and waits for the
ones in hand (`drain`); what it leaves unfinished is read again by the partition's next owner.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from faststream import BaseMiddleware, ContextRepo
from faststream.message import StreamMessage
from pydantic import BaseModel, ValidationError
from pymongo.errors import ConnectionFailure, PyMongoError

from shared.events.envelope import Envelope, EnvelopeError
from shared.events.records import InvalidEvent
from shared.events.registry import EventSpec
from shared.messaging.dead_letters import MAX_RECORD_BYTES, DeadLetters, OversizedRecord, record_bytes
from shared.messaging.offsets import OffsetCommitter, is_group_consumer
from shared.observability.logs import bound_context, get_logger
from shared.observability.metrics import (
    EVENTS_CONSUMED,
    HANDLER_RETRIES,
    HANDLER_SECONDS,
    INFRASTRUCTURE_RETRIES,
)
from shared.observability.tracing import CORRELATION_ID, note_attributes
from shared.refusals import Refused
from shared.storage.inbox import Inbox
from shared.storage.locks import LockTimeout

log = get_logger(__name__)

_T = TypeVar("_T")

HANDLED_ENVELOPE: ContextVar[Envelope] = ContextVar("carepath_envelope")
"""The envelope of the record whose handler runs, set around it (`subscriptions` passes it on).

A context variable rather than a FastStream `Context` field: FastStream resolves such a field
in a worker thread, a thread hand-off for every record."""
HANDLED_EVENT: ContextVar[BaseModel | None] = ContextVar("carepath_event", default=None)
"""The record's data as the pipeline validated it, set around the handler: FastStream's decoder
hands it on (`subscriptions.validated_event`) instead of parsing and validating it again."""
IN_FLIGHT_PER_CONSUMER = 32
"""Records one consumer handles at once (of distinct keys); the next waits for a free slot."""


class PermanentError(Exception):
    """Raised by a handler for input that can never succeed: dead-letter it, do not retry.

    The dead letter's `dlq_error` names its type only (`dead_letters.dead_letter_error`):
    its message stays in the handler's code.
    """


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_backoff_seconds: float = 0.2
    max_backoff_seconds: float = 10.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter for the wait after failed `attempt` (1-based)."""
        ceiling = min(self.max_backoff_seconds, self.initial_backoff_seconds * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography


class InfrastructureError(Exception):
    """Raised by a handler when something it depends on is unreachable: retried without bound."""


class ShuttingDown(Exception):
    """The service stops while a record waits out an outage: give the record back, uncommitted."""


def is_infrastructure_failure(error: BaseException) -> bool:
    """Whether `error` says the infrastructure is down or busy, not that the event is bad.

    Covers every way PyMongo reports an unreachable, timing-out or stepping-down server
    (`ConnectionFailure` and its `AutoReconnect`, `NetworkTimeout`,
    `ServerSelectionTimeoutError`, `NotPrimaryError` subclasses), errors the server labels
    retryable, and a document lease that another writer keeps (`LockTimeout`).
    """
    if isinstance(error, ConnectionFailure | LockTimeout | InfrastructureError):
        return True
    return isinstance(error, PyMongoError) and (
        error.has_error_label("RetryableWriteError") or error.has_error_label("TransientTransactionError")
    )


class ReliableConsumption:
    """Factory FastStream calls per message; holds what the pipeline needs."""

    def __init__(
        self,
        *,
        consumer: str,
        specs_by_topic: Mapping[str, EventSpec],
        inbox: Inbox,
        dead_letters: DeadLetters,
        retry: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_record_bytes: int = MAX_RECORD_BYTES,
        offsets: OffsetCommitter | None = None,
        in_flight: int = IN_FLIGHT_PER_CONSUMER,
    ) -> None:
        self.consumer = consumer
        self.in_flight = in_flight
        self._slots: dict[int, asyncio.Semaphore] = {}  # per consumer (by id)
        self._lanes: dict[tuple[str, int, bytes | None], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.offsets = offsets or OffsetCommitter()
        self.max_record_bytes = max_record_bytes
        self.specs_by_topic = dict(specs_by_topic)
        self.inbox = inbox
        self.dead_letters = dead_letters
        self.retry = retry
        self.sleep = sleep
        self._stalled = 0
        self._stopping = False

    @property
    def stalled(self) -> bool:
        """True while any record waits out an infrastructure outage."""
        return self._stalled > 0

    def stop(self) -> None:
        """Let records waiting out an outage go back uncommitted (the service is stopping)."""
        self._stopping = True

    def resume(self) -> None:
        self._stopping = False

    async def dispatch(self, msg: StreamMessage[Any], work: Callable[[], Awaitable[Any]]) -> None:
        """Start `work` on `msg`'s record after the records of its key before it; return at once,
        or once a slot is free. A stopping service starts nothing: the record is read again."""
        if self._stopping:
            return
        consumer: Any = msg.consumer  # type: ignore[attr-defined]  # a KafkaMessage's
        record = msg.raw_message
        if not is_group_consumer(consumer):
            await work()  # FastStream's test broker: handled inline, a failure raised to the test
            await self.offsets.done(consumer, record.topic, record.partition, record.offset)
            return
        slots = self._slots.setdefault(id(consumer), asyncio.Semaphore(self.in_flight))
        await slots.acquire()
        if self._stopping:
            slots.release()
            return
        self.offsets.started(consumer, record.topic, record.partition, record.offset)
        lane = (record.topic, record.partition, record.key)
        task = asyncio.create_task(self._in_lane(self._lanes.get(lane), consumer, record, work, slots))
        self._lanes[lane] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(lane, done))

    def _finished(self, lane: tuple[str, int, bytes | None], task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._lanes.get(lane) is task:
            del self._lanes[lane]

    async def _in_lane(
        self,
        before: asyncio.Task[None] | None,
        consumer: Any,
        record: Any,
        work: Callable[[], Awaitable[Any]],
        slots: asyncio.Semaphore,
    ) -> None:
        """`work` once the key's record before it is finished, then the record reported done."""
        try:
            if before is not None:
                await asyncio.wait([before])  # its outcome is its own; only the order matters
            while not self._stopping:
                try:
                    await work()
                except ShuttingDown:
                    return
                except Exception:
                    # Not even a dead letter could be written (`_dead_letter` paused already):
                    # the record is tried again, and its partition committed no further meanwhile.
                    log.exception("record not finished; it will be tried again")
                    await self.sleep(self.retry.initial_backoff_seconds)  # never a busy loop
                    continue
                await self.offsets.done(consumer, record.topic, record.partition, record.offset)
                return
        finally:
            slots.release()

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the records in hand; cancel what is left (not committed)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def through_outage(self, step: Callable[[], Awaitable[_T]], *, what: str) -> _T:
        """Run `step`, retrying infrastructure failures with capped backoff until it succeeds."""
        outage_attempt = 0
        try:
            while True:
                try:
                    return await step()
                except Exception as exc:
                    if not is_infrastructure_failure(exc):
                        raise
                    if self._stopping:
                        raise ShuttingDown(f"stopping while {what} waits for the infrastructure") from exc
                    outage_attempt += 1
                    if outage_attempt == 1:
                        self._stalled += 1
                    INFRASTRUCTURE_RETRIES.labels(what).inc()
                    delay = self.retry.backoff(outage_attempt)
                    log.warning(
                        "infrastructure unavailable; retrying without counting",
                        step=what,
                        outage_attempt=outage_attempt,
                        retry_in_seconds=round(delay, 3),
                        error_type=type(exc).__name__,
                    )
                    await self.sleep(delay)
        finally:
            if outage_attempt:
                self._stalled -= 1

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> _ReliableConsumeMiddleware:
        return _ReliableConsumeMiddleware(msg, context=context, pipeline=self)


class _ReliableConsumeMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: ContextRepo, pipeline: ReliableConsumption) -> None:
        super().__init__(msg, context=context)
        self.pipeline = pipeline
        self.reached_handler_scope = False

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
        self.reached_handler_scope = True
        await self.pipeline.dispatch(msg, self._work_for(call_next, msg))
        return None

    def _work_for(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Callable[[], Awaitable[Any]]:
        """Read and check the record now, while its consume span is open; return the work
        (its dead letter, or the inbox and handler) that runs in its key's lane."""
        record = msg.raw_message
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}

        def dead_letter(reason: str, exc: BaseException) -> Callable[[], Awaitable[Any]]:
            async def work() -> None:
                with bound_context(**where):
                    await self._dead_letter(record, reason, exc, attempts=0)

            return work

        spec = self.pipeline.specs_by_topic.get(record.topic)
        if (size := record_bytes(record)) > self.pipeline.max_record_bytes:
            return dead_letter("oversized_record", OversizedRecord(size, self.pipeline.max_record_bytes))
        try:
            envelope = Envelope.from_headers(msg.headers)
            event = self._validate(spec, envelope, msg.body)
        except InvalidEvent as exc:
            return dead_letter(exc.reason, exc)
        except (EnvelopeError, ValidationError, PermanentError) as exc:
            return dead_letter("invalid_event", exc)
        note_attributes(  # on the telemetry middleware's consume span, when traced
            {
                "cloudevents.event_id": envelope.id,
                "cloudevents.event_type": envelope.type,
                "carepath.consumer": self.pipeline.consumer,
                CORRELATION_ID: envelope.correlation_id,
            }
        )

        async def handle() -> Any:
            with bound_context(
                **where,
                event_id=envelope.id,
                event_type=envelope.type,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.causation_id,
            ):
                return await self._handle(call_next, msg, record, envelope, event)

        return handle

    @staticmethod
    def _validate(spec: EventSpec | None, envelope: Envelope, body: bytes) -> BaseModel | None:
        """Refuse, before any handler runs, a record that can never be this topic's event; return
        its data validated (None for a topic outside the registry)."""
        if spec is None:
            return None  # a topic outside the registry: the handler's own signature validates
        if envelope.type != spec.type:
            raise PermanentError(f"ce_type {envelope.type!r} is not {spec.type!r} expected on this topic")
        if envelope.source != spec.source:
            # Only the producer may speak for its events (DESIGN §8): a `session-booked` from
            # anyone else could grant a therapist a client's record. Kafka's ACLs keep other
            # principals off the topic; this holds even where they are missing or too wide.
            raise InvalidEvent("unexpected_source", f"ce_source is not {spec.source}")
        return spec.model.model_validate_json(body)

    async def _handle(
        self,
        call_next: Callable[[Any], Awaitable[Any]],
        msg: StreamMessage[Any],
        record: Any,
        envelope: Envelope,
        event: BaseModel | None,
    ) -> Any:
        pipeline = self.pipeline
        owned_since = pipeline.offsets.owned_since(record.topic, record.partition)
        handled = await pipeline.through_outage(
            lambda: pipeline.inbox.has_handled(
                pipeline.consumer, envelope.id, written_at=envelope.time, owned_since=owned_since
            ),
            what="inbox check",
        )
        if handled:
            EVENTS_CONSUMED.labels(record.topic, "duplicate").inc()
            log.info("duplicate event skipped")
            return None
        started = time.monotonic()

        async def run_handler() -> Any:
            token, event_token = HANDLED_ENVELOPE.set(envelope), HANDLED_EVENT.set(event)
            try:
                return await call_next(msg)
            finally:
                HANDLED_EVENT.reset(event_token)
                HANDLED_ENVELOPE.reset(token)

        attempt = 0
        while True:
            attempt += 1
            try:
                result = await pipeline.through_outage(run_handler, what="handler")
                break
            except (PermanentError, Refused, ValidationError) as exc:
                return await self._dead_letter(record, "rejected_by_handler", exc, attempts=attempt)
            except ShuttingDown:
                raise
            except Exception as exc:
                if attempt >= pipeline.retry.max_attempts:
                    return await self._dead_letter(record, "retries_exhausted", exc, attempts=attempt)
                HANDLER_RETRIES.labels(record.topic).inc()
                delay = pipeline.retry.backoff(attempt)
                log.warning(
                    "handler failed; retrying",
                    attempt=attempt,
                    retry_in_seconds=round(delay, 3),
                    error_type=type(exc).__name__,
                )
                await pipeline.sleep(delay)
        # Stored with the next offset commit, before it (`Inbox.save`, `OffsetCommitter`).
        pipeline.inbox.note_handled(
            pipeline.consumer, envelope.id, topic=record.topic, written_at=envelope.time
        )
        HANDLER_SECONDS.labels(record.topic).observe(time.monotonic() - started)
        EVENTS_CONSUMED.labels(record.topic, "handled").inc()
        return result

    async def _dead_letter(self, record: Any, reason: str, exc: BaseException, *, attempts: int) -> None:
        try:
            await self.pipeline.dead_letters.send(record, reason=reason, error=exc, attempts=attempts)
        except Exception:
            # Not even the dead letter could be written: do not commit. Wait a little so the
            # next attempt at this record does not spin.
            log.exception("dead letter could not be written; the record will be tried again")
            await self.pipeline.sleep(self.pipeline.retry.max_backoff_seconds)
            raise
        EVENTS_CONSUMED.labels(record.topic, "dead_lettered").inc()
        self.pipeline.offsets.commit_soon()  # narrows the window in which it would be written twice

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        """Records that fail before the handler scope (undecodable headers) are dead letters too."""
        if exc_val is None or self.reached_handler_scope or not isinstance(exc_val, Exception):
            return False
        record = self.msg
        try:
            await self._dead_letter(record, "unreadable_record", exc_val, attempts=0)
        except Exception:
            return False
        await self.pipeline.offsets.done_unparsed(record)
        return True
