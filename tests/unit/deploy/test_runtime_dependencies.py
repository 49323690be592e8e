"""The service image holds the runtime dependencies and nothing else, and that is enough.

The image installs `uv sync --frozen --no-default-groups`: the project's dependencies from
uv.lock and what they need, nothing of the `dev`, `demo` or `sinks` groups. `make`
installs every group, so an import of a group's package in `shared/` or `services/` would
pass the whole suite and then fail in production at start. These tests walk the imports
of every module that goes into the image, map each to the distribution that provides it
(the installed distributions' file lists, as `importlib.metadata.packages_distributions`
does, narrowed by the dotted path for namespace packages such as `opentelemetry`), and
compare with the locked dependency closure. The compose-only sinks image gets the same
check against the `sinks` group alone.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import cache
from importlib.metadata import distribution, packages_distributions
from pathlib import Path
from typing import Any

from packaging.markers import Marker

REPO = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCK = tomllib.loads((REPO / "uv.lock").read_text())
PROJECT = PYPROJECT["project"]["name"]
# What the wheel (and so the image) ships of the repository: shared/ and services/.
FIRST_PARTY = frozenset(PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
SINKS = REPO / "deploy/local/sinks.py"
# Moved out of the runtime dependencies (issue 20): the demo's, the sinks' and the tests'.
MOVED = {"rich": "demo", "aiosmtpd": "sinks", "fhir-resources": "dev"}


def normalize(name: str) -> str:
    """A distribution name as the lock writes it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# ------------------------------------------------------------------------ the lock


def locked_packages() -> dict[str, dict[str, Any]]:
    return {package["name"]: package for package in LOCK["package"]}


def applies_here(dependency: dict[str, Any]) -> bool:
    """Whether a locked edge applies on Linux with this Python (the image's platform)."""
    marker = dependency.get("marker")
    return marker is None or Marker(marker).evaluate()


def closure(roots: Iterable[dict[str, Any]]) -> set[str]:
    """Every distribution the lock installs for `roots` (lock edges, with their extras)."""
    packages = locked_packages()

    def steps(edges: Iterable[dict[str, Any]]) -> list[tuple[str, str | None]]:
        """(package, None) for its own dependencies, (package, extra) for each extra's."""
        return [
            (edge["name"], extra)
            for edge in edges
            if applies_here(edge)
            for extra in [None, *edge.get("extra", [])]
        ]

    seen: set[tuple[str, str | None]] = set()
    pending = steps(roots)
    while pending:
        step = pending.pop()
        if step in seen:
            continue
        seen.add(step)
        name, extra = step
        package = packages[name]
        edges = package.get("dependencies", []) if extra is None else package["optional-dependencies"][extra]
        pending += steps(edges)
    return {name for name, _ in seen}


@cache
def runtime_closure() -> frozenset[str]:
    """What `uv sync --no-default-groups --no-editable` installs besides the project itself."""
    return frozenset(closure(locked_packages()[PROJECT]["dependencies"]))


@cache
def group_closure(group: str) -> frozenset[str]:
    """What `uv sync --only-group <group>` installs."""
    return frozenset(closure(locked_packages()[PROJECT]["dev-dependencies"][group]))


# ------------------------------------------------------------------------ the imports


def imported_modules(path: Path) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of every absolute import; `from a import b` yields `a.b`."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


def third_party_imports(paths: Iterable[Path], first_party: Iterable[str]) -> dict[str, list[str]]:
    """Dotted name -> where it is imported, for everything neither stdlib nor `first_party`."""
    ours = set(first_party)
    found: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        for name, line in imported_modules(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ours:
                continue
            found[name].append(f"{path.relative_to(REPO)}:{line}")
    return found


@cache
def top_level_distributions() -> dict[str, list[str]]:
    """Top-level import name -> the installed distributions that provide it."""
    return packages_distributions()


@cache
def module_owners(top: str) -> dict[str, frozenset[str]]:
    """Dotted module or package name -> the distributions whose files provide it, under `top`."""
    owners: dict[str, set[str]] = defaultdict(set)
    for name in top_level_distributions().get(top, []):
        for file in distribution(name).files or ():
            parts = file.with_suffix("").parts if file.suffix in (".py", ".pyi", ".so") else file.parent.parts
            if not parts or parts[0] != top:
                continue
            parts = tuple(part.split(".")[0] for part in parts)  # foo.cpython-311-x86_64-linux-gnu
            for end in range(1, len(parts) + 1):
                owners[".".join(parts[:end])].add(normalize(name))
    return {module: frozenset(names) for module, names in owners.items()}


def distributions_of(module: str) -> frozenset[str]:
    """The distributions that provide `module`: its longest dotted prefix that any of them owns."""
    owners = module_owners(module.split(".")[0])
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if found := owners.get(".".join(parts[:end])):
            return found
    return frozenset()


def unavailable(imports: dict[str, list[str]], installed: frozenset[str]) -> dict[str, str]:
    """Imports that a distribution outside `installed` provides (or nothing does)."""
    missing: dict[str, str] = {}
    for module, places in sorted(imports.items()):
        providers = distributions_of(module)
        if not providers:
            missing[module] = f"no installed distribution provides it ({places[0]})"
        elif not providers & installed:
            missing[module] = f"{' or '.join(sorted(providers))}, not installed ({places[0]})"
    return missing


@cache
def image_imports() -> dict[str, list[str]]:
    """The third-party imports of every module the image ships (shared/ and services/)."""
    modules = sorted(path for package in FIRST_PARTY for path in (REPO / package).rglob("*.py"))
    return third_party_imports(modules, FIRST_PARTY)


# ------------------------------------------------------------------------ the tests


def test_shared_and_services_import_only_what_the_service_image_installs() -> None:
    imports = image_imports()
    assert imports, "the walk found no third-party import at all"
    assert unavailable(imports, runtime_closure()) == {}


def test_every_runtime_dependency_is_imported_by_shared_or_a_service() -> None:
    """The other half of "only what services import": nothing rides along unused."""
    imports = image_imports()
    provided = set().union(*(distributions_of(module) for module in imports))
    direct = {dependency["name"] for dependency in locked_packages()[PROJECT]["dependencies"]}
    assert direct - provided == set()


def test_the_demo_the_sinks_and_the_test_tools_are_groups_the_image_leaves_out() -> None:
    """Also through what the runtime dependencies pull in: none of them needs these."""
    groups = locked_packages()[PROJECT]["dev-dependencies"]
    for package, group in MOVED.items():
        assert package not in runtime_closure(), f"{package} is still installed in the service image"
        assert package in {dependency["name"] for dependency in groups[group]}, f"{package} not in {group}"


def test_the_sinks_image_has_all_that_the_local_sinks_import() -> None:
    """The compose-only sinks stage installs the `sinks` group alone and copies sinks.py."""
    imports = third_party_imports([SINKS], first_party=["deploy"])
    assert set(imports) >= {"aiosmtpd.controller.Controller"}
    assert unavailable(imports, group_closure("sinks")) == {}
    assert "carepath" not in group_closure("sinks") and "faststream" not in group_closure("sinks")


def test_the_walk_sees_imports_in_functions_and_names_namespace_packages_exactly() -> None:
    """Self-check: a lazy import counts, and `opentelemetry.*` maps to its own distribution."""
    assert "aiosmtpd.controller.Controller" in {name for name, _ in imported_modules(SINKS)}
    assert distributions_of("opentelemetry.sdk.trace.TracerProvider") == {"opentelemetry-sdk"}
    assert distributions_of("jwt.PyJWKClient") == {"pyjwt"}
    assert unavailable({"rich.console.Console": ["x.py:1"]}, runtime_closure())
