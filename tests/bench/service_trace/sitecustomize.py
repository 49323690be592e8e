"""Bench-only: count a service process's MongoDB round trips, for the journey benchmark.

Put on a service's PYTHONPATH (with `BENCH_TRACE_DIR` set) by `tests.bench.journey
--trace`, Python imports it at start-up: every PyMongo command the process sends is
counted by command and collection (`[scan]` marks a filter FerretDB answers by reading the
whole collection), and the running totals are written to `<dir>/<pid>.json` every second,
so the bench can take the difference over a window. Nothing else in the process changes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from tests.bench.profiling import MongoCommands


def _dump(commands: MongoCommands, path: Path) -> None:
    while True:
        time.sleep(1.0)
        try:
            totals = {
                f"{call} {target}".strip(): [len(values), round(sum(values), 4)]
                for (call, target), values in list(commands.durations.items())
            }
        except RuntimeError:  # a new (call, target) arrived meanwhile: the next second has it
            continue
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"at": time.time(), "commands": totals}))
        temporary.replace(path)


if folder := os.environ.get("BENCH_TRACE_DIR"):
    _commands = MongoCommands.install()
    _commands.active = True
    threading.Thread(
        target=_dump, args=(_commands, Path(folder) / f"{os.getpid()}.json"), daemon=True
    ).start()
