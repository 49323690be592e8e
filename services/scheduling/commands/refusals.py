"""Why a command refused: a code the API turns into problem+json and handlers into reasons."""

from __future__ import annotations


class Refused(Exception):
    """A request that cannot be done as asked; `status` is the HTTP answer it deserves."""

    def __init__(
        self, status: int, code: str, detail: str, *, field: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.reason = reason  # a finer code under `code`, e.g. why a booking is outside consent


def not_found(what: str, identifier: str) -> Refused:
    return Refused(404, f"{what}_not_found", f"no {what.replace('_', ' ')} {identifier!r}")


def conflict(code: str, detail: str, *, field: str | None = None, reason: str | None = None) -> Refused:
    return Refused(409, code, detail, field=field, reason=reason)
