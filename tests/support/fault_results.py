"""Figures measured by the fault-injection suite (tests/e2e/faults), kept for the run's summary.

Each scenario writes one JSON file to `.local/fault-results/` (override with
`CAREPATH_FAULT_RESULTS`); the root conftest prints the files written during the run at
the end of the terminal summary, so the figures are visible whichever xdist worker ran
the scenario, and stay on disk to be quoted.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.support.infrastructure import REPO


def results_dir() -> Path:
    return Path(os.environ.get("CAREPATH_FAULT_RESULTS", REPO / ".local" / "fault-results"))


def write_result(scenario: str, figures: dict[str, Any]) -> Path:
    """Write `figures` as `<scenario>.json` (stamped with the time written)."""
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{scenario}.json"
    path.write_text(json.dumps({"scenario": scenario, "written_at": time.time(), **figures}, indent=2))
    return path


def results_since(started: float) -> list[dict[str, Any]]:
    """The scenarios written after `started` (epoch seconds), by name."""
    folder = results_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            loaded: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if float(loaded.get("written_at", 0)) >= started:
            found.append(loaded)
    return found


def summary_lines(results: list[dict[str, Any]]) -> list[str]:
    """One block per scenario: the headline counts, then recovery times."""
    lines = []
    for result in results:
        counts = result.get("counts", {})
        lines.append(
            f"{result['scenario']}: " + ", ".join(f"{name} {value}" for name, value in counts.items())
        )
        for fault in result.get("faults", []):
            timings = ", ".join(
                f"{name} {value:.1f} s" for name, value in fault.items() if isinstance(value, float)
            )
            waited_on = ", ".join(
                f"{check} x{n}" for check, n in (fault.get("not_ready_polls") or {}).items()
            )
            lines.append(
                f"  {fault.get('fault', '?')} {fault.get('target', '')}: {timings}"
                + (f"; not ready: {waited_on}" if waited_on else "")
            )
        if "wall_seconds" in result:
            lines.append(f"  wall time {result['wall_seconds']:.0f} s; details in {results_dir()}")
    return lines
