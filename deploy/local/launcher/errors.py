"""Exit codes and the failures the launcher reports as one line, never as a traceback."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_PREREQUISITE = 2
EXIT_NOT_RUNNING = 3
EXIT_INTERRUPTED = 130


class LauncherError(Exception):
    """A failure reported as one line (plus optional details, e.g. the tail of a log)."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class PrerequisiteError(LauncherError):
    """A missing tool: exit code 2, so callers can tell 'cannot run here' from 'broke'."""

    exit_code = EXIT_PREREQUISITE


class NotReadyError(Exception):
    """A probe reached a server that is not serving (yet); the reason is the message."""
