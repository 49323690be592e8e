"""How the suite gets Kafka and MongoDB: provisioned once per run, outside any test's timeout.

The search itself (DESIGN §6: environment, Docker, local launcher) is written once, in
`deploy/local/discovery.py`, and shared with `make run`. Here is only what the suite adds:
which runs need infrastructure at all, and handing it to pytest-xdist workers through the
environment (workers inherit the controller's, so they find step 1 and start nothing).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from deploy.local.discovery import (
    LAUNCHER,
    REPO,
    Infrastructure,
    InfrastructureError,
    free_port,
    provide,
)

__all__ = [
    "LAUNCHER",
    "PROVISIONING_ERROR",
    "REPO",
    "Infrastructure",
    "InfrastructureError",
    "free_port",
    "provide",
    "provide_for_run",
    "selects_infrastructure",
]

TESTS = REPO / "tests"
LAYERS_WITH_INFRASTRUCTURE = ("integration", "e2e")
# Set by the controller when provisioning failed, so every worker fails with the same reason.
PROVISIONING_ERROR = "CAREPATH_INFRASTRUCTURE_ERROR"


def selects_infrastructure(args: Iterable[str], invocation_dir: Path) -> bool:
    """Whether the paths a run names reach integration or end-to-end tests.

    `tests/unit` alone (or a file in it) starts nothing; `tests`, the repository, or any
    path in or above tests/integration or tests/e2e does. Node ids (`file.py::test`) count
    by their file; options are not paths and are ignored.
    """
    layers = [TESTS / layer for layer in LAYERS_WITH_INFRASTRUCTURE]
    for arg in args:
        if arg.startswith("-"):
            continue
        path = (invocation_dir / arg.split("::", 1)[0]).resolve()
        if any(path == layer or layer in path.parents or path in layer.parents for layer in layers):
            return True
    return False


def provide_for_run() -> Infrastructure:
    """Provide, then export the addresses so this process's children (xdist workers) reuse them."""
    infrastructure = provide()
    os.environ.update(infrastructure.environment())
    return infrastructure
