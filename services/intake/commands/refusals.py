"""How a command says it could not do what was asked (the API turns each into problem+json)."""

from __future__ import annotations

from collections.abc import Sequence

from services.intake.domain.intake import FieldError


class InvalidFields(Exception):
    """The input, or the stored draft it refers to, has missing or bad fields (422)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(", ".join(error.field for error in errors))
        self.errors = list(errors)


class NotFound(Exception):
    """No such intake, plan or check-in (404)."""


class Conflict(Exception):
    """The request does not fit the record's current state, e.g. a PATCH after submission (409).

    `code` names the reason for a caller that acts on it (`not_current_version`,
    `check_in_missed`); the message says it for a person.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
