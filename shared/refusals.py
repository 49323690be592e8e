"""Why a command will not do what it was asked: one exception for every service, no HTTP in it.

Commands (and the aggregates they call) raise a `Refused` with a machine `code` a caller
can act on, a `message` a person can read (ids and codes only, never clinical content),
and, for bad input, the `errors` naming each offending field. What kind of refusal it is
says what it means, not how it is answered:

- `NotFound`: no such thing (or nothing the caller may see: the same answer, on purpose);
- `Conflict`: the request does not fit the current state (a closed match, a taken slot);
- `Invalid`: well-formed input that names something impossible here;
- `NotAllowed`: the caller's role may never do this.

`create_service_app` maps each kind to problem+json once (`shared.http.problems`), so
routes never catch a refusal and handlers of events can turn one into a dead letter's
reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One offending field, as the caller sent it (e.g. `body.therapist_id`), and what is wrong."""

    field: str
    message: str


class Refused(Exception):
    """A command refused; subclasses say which kind of refusal it is."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        reason: str | None = None,
        errors: Sequence[FieldProblem] = (),
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        """The one input the refusal is about (e.g. `path.notification_id`), when no more is said."""
        self.reason = reason
        """A finer code under `code`, e.g. why a booking is outside the client's consent."""
        self.errors = tuple(errors)


class NotFound(Refused):
    """No such record, or none the caller may see."""


class Conflict(Refused):
    """The request does not fit the record's current state."""


class Invalid(Refused):
    """Input that is well formed but names something impossible here; `errors` says where."""

    def __init__(
        self, errors: Sequence[FieldProblem], *, code: str | None = None, message: str | None = None
    ) -> None:
        """`message` defaults to the first error as `<field>: <message>`."""
        first = errors[0] if errors else FieldProblem("", "invalid request")
        super().__init__(message or f"{first.field}: {first.message}", code=code, errors=errors)


class NotAllowed(Refused):
    """The caller's role may never do this, whatever the record."""
