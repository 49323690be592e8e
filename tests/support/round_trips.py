"""Count a test's MongoDB round trips: the point of several changes is how many a write costs."""

from __future__ import annotations

from collections import Counter

from pymongo import monitoring


class RoundTrips(monitoring.CommandListener):
    """Every command a client sends, as (command, collection): each one a round trip."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()
        self.replacing: Counter[str] = Counter()  # per collection: `update`s that replace whole documents

    def by_command(self) -> Counter[str]:
        """The same, by command name alone."""
        counts: Counter[str] = Counter()
        for (command, _), n in self.seen.items():
            counts[command] += n
        return counts

    def clear(self) -> None:
        self.seen.clear()
        self.replacing.clear()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = str(event.command.get(event.command_name, ""))
        self.seen[(event.command_name, collection)] += 1
        updates = event.command.get("updates", ()) if event.command_name == "update" else ()
        if updates and all(not any(k.startswith("$") for k in u.get("u", {})) for u in updates):
            self.replacing[collection] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...
