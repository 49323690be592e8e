"""Why a command refused, independent of HTTP (the routers turn these into problem+json)."""

from __future__ import annotations


class CommandRefused(Exception):
    """Base: `detail` is safe to show the caller (ids and codes only)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(CommandRefused):
    pass


class Conflict(CommandRefused):
    """The request does not fit the current state (e.g. a match that is closed already)."""


class InvalidChoice(CommandRefused):
    """A well-formed value that names something invalid here; `field` says which one."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
