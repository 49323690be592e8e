"""Build `carepath_events` from the repository's `shared/events/`, so the package cannot drift.

In the repository the sources are `../../shared/events/`; the sdist gets a copy of them
under `carepath_events/` (made by this hook), where a wheel built from the sdist finds
them. The modules import one another relatively, so the same files work as
`shared.events` in the services and as `carepath_events` in a consumer. Repository
tooling (the schema and AsyncAPI exports, the compatibility check and its released
baseline) stays out of the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = "carepath_events"
TOOLING = frozenset({"export_schemas.py", "export_asyncapi.py", "compatibility.py"})
SKIPPED_DIRECTORIES = frozenset({"__pycache__", "released"})


class EventsSources(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        sources = self.sources()
        for path in sorted(sources.rglob("*")):
            relative = path.relative_to(sources)
            if path.is_file() and ships(relative):
                build_data["force_include"][str(path)] = f"{PACKAGE}/{relative.as_posix()}"

    def sources(self) -> Path:
        root = Path(self.root)
        for candidate in (root / PACKAGE, root.parent.parent / "shared" / "events"):
            if (candidate / "__init__.py").is_file():
                return candidate
        raise FileNotFoundError(f"no {PACKAGE}/ (sdist) or ../../shared/events/ (repository) under {root}")


def ships(relative: Path) -> bool:
    """Modules, the JSON Schemas and py.typed; not tooling, caches or the released baseline."""
    if SKIPPED_DIRECTORIES & set(relative.parts[:-1]) or relative.suffix == ".pyc":
        return False
    return not (len(relative.parts) == 1 and relative.name in TOOLING)
