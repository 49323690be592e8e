"""Bench-only: count a service process's MongoDB round trips, for the journey benchmark.

Put on a service's PYTHONPATH (with `BENCH_TRACE_DIR` set) by `tests.bench.journey
--trace`, Python imports it at start-up: every PyMongo command the process sends is
counted by command and collection (`[scan]` marks a filter FerretDB answers by reading the
whole collection), and the running totals are written to `<dir>/<pid>.json` every second,
so the bench can take the difference over a window. Nothing else in the process changes.

With `BENCH_PROFILE_DIR` set too (`--journey-profile`), SIGUSR1 starts cProfile on the
event loop's thread, timed by CPU time (waiting for a core is not the process's cost), and
the next SIGUSR1 stops it and writes `<dir>/<pid>.prof`.
"""

from __future__ import annotations

import cProfile
import json
import os
import signal
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


def _toggle_profile(folder: Path) -> None:
    """First SIGUSR1: profile from now; the next: write the profile and stop."""
    global _profiler
    if _profiler is None:
        _profiler = cProfile.Profile(time.process_time)
        _profiler.enable()
    else:
        _profiler.disable()
        _profiler.dump_stats(str(folder / f"{os.getpid()}.prof"))
        _profiler = None


_profiler: cProfile.Profile | None = None
if _profiles := os.environ.get("BENCH_PROFILE_DIR"):
    signal.signal(signal.SIGUSR1, lambda *_: _toggle_profile(Path(_profiles)))
