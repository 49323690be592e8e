"""`status`: what serves on the configured ports, and whether clients can use it."""

from __future__ import annotations

from deploy.local.launcher.errors import EXIT_NOT_RUNNING, EXIT_OK
from deploy.local.launcher.layout import Layout
from deploy.local.launcher.probes import PROBE_ERRORS
from deploy.local.launcher.processes import describe_holder, format_ports, port_is_free
from deploy.local.launcher.servers import Server, known_servers, running_record
from deploy.local.launcher.settings import LOOPBACK, Settings


def describe(server: Server, layout: Layout, port_names: dict[int, str]) -> tuple[bool, str]:
    """One line, and whether the server is usable: ours and ready, or another one that answers."""
    record = running_record(server, layout, remove_stale=False)
    if record is None:
        return describe_other(server, port_names)
    running = f"{server.name:<6} {record.label} running (pid {record.pid}) on {format_ports(record.ports)}"
    if record.ports != server.ports:
        return False, f"{running}: not the configured ports"
    try:
        server.probe()
    except PROBE_ERRORS as error:
        return False, f"{running}: not ready ({error})"
    return True, f"{running}: ready"


def describe_other(server: Server, port_names: dict[int, str]) -> tuple[bool, str]:
    busy = [port for port in server.ports if not port_is_free(port)]
    if not busy:
        return False, f"{server.name:<6} stopped"
    if server.client_port in busy:
        try:
            server.answers()
        except PROBE_ERRORS:
            pass
        else:
            holder = describe_holder(server.client_port)
            return True, (
                f"{server.name:<6} {server.kind} answers on {LOOPBACK}:{server.client_port}, "
                f"not started by this launcher ({holder}): usable, `down` leaves it alone"
            )
    port = busy[0]
    holder = describe_holder(port)
    return False, f"{server.name:<6} stopped (port {port} taken by {holder}, see {port_names[port]})"


def cmd_status(settings: Settings) -> int:
    """Exit 0 only when both servers are usable, so scripts can test it directly."""
    layout = settings.layout
    results = [describe(server, layout, settings.port_names) for server in known_servers(settings, layout)]
    for _, line in results:
        print(line)
    if all(ok for ok, _ in results):
        print(f"env file: {layout.env_file}")
        return EXIT_OK
    return EXIT_NOT_RUNNING
