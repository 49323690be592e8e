"""Count a test's MongoDB round trips: the point of several changes is how many a write costs."""

from __future__ import annotations

from collections import Counter

from pymongo import monitoring


class RoundTrips(monitoring.CommandListener):
    """Every command a client sends, as (command, collection): each one a round trip."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()

    def by_command(self) -> Counter[str]:
        """The same, by command name alone."""
        counts: Counter[str] = Counter()
        for (command, _), n in self.seen.items():
            counts[command] += n
        return counts

    def clear(self) -> None:
        self.seen.clear()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.seen[(event.command_name, str(event.command.get(event.command_name, "")))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...
