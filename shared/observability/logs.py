"""structlog JSON logging with correlation ids from event headers and PHI redaction.

Every log line is one JSON object. Ids travel as fields (`correlation_id`, `event_id`,
`client_id`), never whole payloads. A processor replaces the value of any known PHI key,
at any depth, before rendering (DESIGN §8), so a careless `log.info(..., email=...)`
still writes nothing identifying. Standard-library loggers (uvicorn, aiokafka,
FastStream) are routed through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

REDACTED = "[REDACTED]"

# Keys whose values are protected health information or contact data. Matching is
# case-insensitive on the key name; ids and codes are not PHI and stay readable.
PHI_KEYS: frozenset[str] = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "preferred_name",
        "email",
        "email_address",
        "phone",
        "phone_number",
        "mobile",
        "address",
        "street",
        "postal_code",
        "zip",
        "date_of_birth",
        "dob",
        "birth_date",
        "ssn",
        "insurance_member_id",
        "notes",
        "note",
        "psychotherapy_notes",
        "free_text",
        "answers",
        "responses",
        "history",
        "narrative",
        "presenting_problem",
        "reason_for_seeking",
        "goals_text",
        "message_body",
        "body",
        "content",
        "password",
        "token",
        "authorization",
        "secret",
    }
)


def redact_phi(value: Any, keys: frozenset[str] = PHI_KEYS) -> Any:
    """Return `value` with every PHI key's value replaced, recursing into dicts and lists."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if str(k).lower() in keys else redact_phi(v, keys)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_phi(v, keys) for v in value]
    return value


SECRET_PATH = re.compile(r"(/calendar-feeds/)[^/?]+")
"""Paths that are themselves a secret (a calendar feed's token): logged as `.../calendar-feeds/***`."""


class _DropQueryStrings(logging.Filter):
    """uvicorn's access lines carry the full path; query strings may hold PHI, paths hold ids,
    and a feed URL's path is its secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            shown = SECRET_PATH.sub(r"\1***", str(path).split("?", 1)[0])
            record.args = (client, method, shown, version, status)
        return True


def _drop_color_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """uvicorn adds an ANSI-coloured copy of each message; JSON lines need only one."""
    event_dict.pop("color_message", None)
    return event_dict


def _redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return redact_phi(event_dict)  # type: ignore[no-any-return]


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
        _redact_processor,
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
        # Standard-library records keep their `extra=` fields (redacted like the rest).
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _drop_color_message, *shared_processors],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_processor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that install their own handlers (FastStream writes coloured text to
    # stderr) would bypass the JSON renderer and the redaction: route them through root.
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
