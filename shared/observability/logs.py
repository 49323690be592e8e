"""structlog JSON logging: an allow-list of fields on every line, exceptions without values.

Every log line is one JSON object, and it keeps only the fields of `ALLOWED_FIELDS` (what
happened, where, when, and pseudonymous ids, codes, counts and durations) plus those its
call site declares for that one line with `allow=("origin", ...)`. Everything else is
dropped whatever its name, so a careless `log.info(..., email=...)`, a library's `extra=`
or a dict of answers writes nothing but the field's name, in `dropped_fields`, for the
developer to notice (DESIGN §8). Allowed fields hold plain values (text, numbers, lists of
them); a mapping is dropped like an unknown field. A clinical value (`CLINICAL_FIELDS`: a
risk level, a score, a severity) cannot be declared at all: almost every line can be tied
to a client, so none ever carries one.

An exception is written as `error_type`, `error_fields` (the field paths of a validation
error) and `error_stack` (file, line and function of each frame), never as a traceback
text, whose message and `input_value` may hold health information; a library line that
quotes the exception in its message gets that text withheld. Standard-library loggers
(uvicorn, aiokafka, FastStream) go through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import structlog
from pydantic import ValidationError

from shared.events.records import validation_error_paths

ALLOW = "allow"
"""The keyword a call site names extra fields with: `log.info("...", origin=o, allow=("origin",))`."""

DROPPED = "dropped_fields"
WITHHELD = "[withheld]"

ALLOWED_FIELDS: frozenset[str] = frozenset(
    {
        # what happened, where and when
        "event", "level", "timestamp", "logger", "service", "module", "instance", "consumer",
        # pseudonymous ids of the journey and its records
        "correlation_id", "causation_id", "event_id", "event_type", "request_id", "audit_id",
        "client_id", "therapist_id", "intake_id", "match_id", "session_id", "check_in_id",
        "plan_id", "delivery_id", "notification_id", "recipient_id", "next_recipient_id",
        "timer_id", "alert_id", "predecessor", "match_ids", "therapist_ids",
        # who touched clinical data (the audit line): ids and codes
        "actor", "role", "action", "resource", "resource_id", "basis",
        # Kafka and tracing
        "topic", "partition", "offset", "group_id", "message_id", "trace_id", "span_id",
        # codes and states
        "alert", "kind", "channel", "reason", "status", "status_code", "method", "path", "step",
        "origin", "exporter", "protocol", "transient", "version", "sequence",
        # counts and durations
        "count", "attempt", "attempts", "outage_attempt", "events", "records", "leases",
        "replicas", "subscriptions", "proposals", "matched", "tried", "therapists",
        "duration_seconds", "retry_in_seconds", "waited_seconds", "timeout_seconds",
        "speed", "epoch", "until",
        # the service's own listeners and settings (names, never values)
        "host", "port", "setting",
        # what failed, without what it carried
        "error_type", "error_fields", "error_cause", "error_stack",
        DROPPED,
    }
)  # fmt: skip
"""Fields every line may carry. Ids are pseudonymous; codes, counts and times are not PHI."""

CLINICAL_FIELDS: frozenset[str] = frozenset(
    {
        "risk", "risk_level", "risk_reasons", "risk_flags", "severity", "score", "scores",
        "phq9", "gad7", "phq9_score", "gad7_score", "item9", "answers", "responses",
        "diagnosis", "concerns", "symptoms", "medications", "history", "notes", "note",
        "attention", "consecutive_missed", "missed_in_a_row", "acuity",
    }
)  # fmt: skip
"""Fields no line may carry, even when declared: clinical values never sit beside an id."""

SECRET_PATH = re.compile(r"(/calendar-feeds/)[^/?]+")
"""Paths that are themselves a secret (a calendar feed's token): logged as `.../calendar-feeds/***`."""

MAX_STACK_FRAMES = 12
MIN_WITHHELD_LENGTH = 3  # shorter error texts are not looked for in a message (they would garble it)


def shown_path(path: str) -> str:
    """A request path as logs show it: no query string (it may hold PHI), no feed token."""
    return SECRET_PATH.sub(r"\1***", path.split("?", 1)[0])


class _DropQueryStrings(logging.Filter):
    """uvicorn's access lines carry the full path; query strings may hold PHI, paths hold ids,
    and a feed URL's path is its secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record.args = (client, method, shown_path(str(path)), version, status)
        return True


def _drop_color_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """uvicorn adds an ANSI-coloured copy of each message; JSON lines need only one."""
    event_dict.pop("color_message", None)
    return event_dict


def describe_exception(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Turn `exc_info` into type, field paths and frames; withhold the error's text from the message."""
    event_dict.pop("stack_info", None)
    error = _exception_of(event_dict.pop("exc_info", None))
    if error is None:
        return event_dict
    event_dict["error_type"] = type(error).__name__
    if paths := _field_paths(error):
        event_dict["error_fields"] = paths
    cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    if cause is not None:
        event_dict["error_cause"] = type(cause).__name__
    event_dict["error_stack"] = _frames(error)
    message = event_dict.get("event")
    if isinstance(message, str):  # a library's line may quote the error: `f"{type}: {exc}"`
        for text in sorted({repr(error), str(error)}, key=len, reverse=True):
            if len(text) >= MIN_WITHHELD_LENGTH:
                message = message.replace(text, WITHHELD)
        event_dict["event"] = message
    return event_dict


def keep_allowed_fields(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Keep the allowed and declared fields with plain values; name the rest in `dropped_fields`."""
    declared = event_dict.pop(ALLOW, ())
    allowed = ALLOWED_FIELDS | (set(_names(declared)) - CLINICAL_FIELDS)
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in event_dict.items():
        if key == DROPPED:
            continue
        if key in allowed and _plain(value):
            kept[key] = _shown(key, value)
        else:
            dropped.append(str(key))
    if dropped:
        kept[DROPPED] = sorted(dropped)
    return kept


def configure_logging(
    service: str, *, level: str = "INFO", fmt: str = "json", stream: TextIO | None = None
) -> None:
    """Configure structlog and the standard library once, at process start."""
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.CallsiteParameterAdder({structlog.processors.CallsiteParameter.MODULE}),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # Standard-library records keep their `extra=` fields, through the same allow-list.
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _drop_color_message, *shared_processors],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            describe_exception,  # in place of a traceback, in both formats
            keep_allowed_fields,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that install their own handlers (FastStream writes coloured text to
    # stderr) would bypass the JSON renderer and the allow-list: route them through root.
    for library in ("faststream", "uvicorn", "uvicorn.error", "uvicorn.access"):
        library_logger = logging.getLogger(library)
        library_logger.handlers.clear()
        library_logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _DropQueryStrings) for f in access.filters):
        access.addFilter(_DropQueryStrings())
    # Chatty libraries: keep their warnings, drop per-message info lines.
    for noisy in ("aiokafka", "kafka", "pymongo", "faststream.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


@contextmanager
def bound_context(**ids: str | int | None) -> Iterator[None]:
    """Bind ids (correlation_id, event_id, ...) to every log line inside the block."""
    present = {k: v for k, v in ids.items() if v is not None}
    tokens = structlog.contextvars.bind_contextvars(**present)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple):
        return exc_info[1] if len(exc_info) > 1 and isinstance(exc_info[1], BaseException) else None
    return sys.exc_info()[1] if exc_info else None


def _field_paths(error: BaseException) -> list[str]:
    """The paths a validation error names (pydantic's, FastAPI's request errors), never its inputs."""
    if isinstance(error, ValidationError):
        return validation_error_paths(error)
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return []
    try:
        items = errors()
    except Exception:
        return []
    if not isinstance(items, list):
        return []
    locations = [item.get("loc", ()) for item in items if isinstance(item, Mapping)]
    return validation_error_paths(locations)


def _frames(error: BaseException) -> list[str]:
    """`file:line in function` per frame, innermost last: where it failed, not with what."""
    frames = traceback.extract_tb(error.__traceback__)[-MAX_STACK_FRAMES:]
    return [f"{_short_file(frame.filename)}:{frame.lineno} in {frame.name}" for frame in frames]


def _short_file(filename: str) -> str:
    parts = Path(filename).parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1 :])
    try:
        return Path(filename).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return "/".join(parts[-2:])


def _names(declared: Any) -> Iterable[str]:
    if isinstance(declared, str):
        return (declared,)
    if isinstance(declared, Iterable):
        return (name for name in declared if isinstance(name, str))
    return ()


def _shown(key: str, value: Any) -> Any:
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return shown_path(value) if key == "path" and isinstance(value, str) else value


def _plain(value: Any) -> bool:
    """Text, numbers, booleans, nothing, or a list of those: never a mapping or an object."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple | set | frozenset):
        return all(item is None or isinstance(item, str | int | float | bool) for item in value)
    return False
