"""`down` and `clean`: stop what `up` started (never anything else), and wipe data for `clean`."""

from __future__ import annotations

import shutil
from collections.abc import Collection

from deploy.local.launcher.errors import EXIT_OK, LauncherError
from deploy.local.launcher.layout import Layout
from deploy.local.launcher.lock import launcher_lock
from deploy.local.launcher.processes import proc_stat, stop_group
from deploy.local.launcher.report import say
from deploy.local.launcher.servers import SERVER_NAMES, known_servers, running_record
from deploy.local.launcher.settings import Settings


def stop_servers(settings: Settings, names: Collection[str] = SERVER_NAMES) -> int:
    """Stop the named servers the pid files name, if still ours; returns how many were stopped."""
    layout = settings.layout
    stopped = 0
    for server in known_servers(settings, layout):
        record = running_record(server, layout) if server.name in names else None
        if record is None:
            continue
        stat = proc_stat(record.pid)
        if stat is None or stat[1] != record.pid:
            raise LauncherError(
                f"{record.label} (pid {record.pid}) no longer leads its process group; not killing"
            )
        say(f"stopping {record.label} (pid {record.pid})...")
        stop_group(record.pid, record.label)
        layout.pid_file(server.name).unlink(missing_ok=True)
        stopped += 1
    if set(SERVER_NAMES) <= set(names):
        layout.env_file.unlink(missing_ok=True)
    return stopped


def cmd_down(settings: Settings, names: Collection[str] = SERVER_NAMES) -> int:
    """Exit 0 also when nothing was running, so it is safe in cleanups."""
    if not settings.layout.root.exists():
        say("nothing is running")
        return EXIT_OK
    with launcher_lock(settings.layout):
        stopped = stop_servers(settings, names)
    say("stopped" if stopped else "nothing is running")
    return EXIT_OK


def wipe_data(layout: Layout) -> None:
    """Data only: the jar and binary caches are expensive to rebuild and never hold state."""
    if layout.data.exists():
        say(f"wiping {layout.data}")
        shutil.rmtree(layout.data)


def cmd_clean(settings: Settings) -> int:
    """Stop and wipe the data, keeping the caches: the next `up` starts empty but fast."""
    if not settings.layout.root.exists():
        return EXIT_OK
    with launcher_lock(settings.layout):
        stop_servers(settings)
        wipe_data(settings.layout)
    return EXIT_OK
