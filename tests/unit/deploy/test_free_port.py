"""Ports for servers about to start are picked where outgoing connections never take theirs."""

from __future__ import annotations

import socket

from deploy.local import discovery
from deploy.local.discovery import LISTEN_PORTS_FROM, _ephemeral_start, free_port


def test_ports_are_below_the_ephemeral_range_free_and_not_handed_out_twice() -> None:
    ports = [free_port() for _ in range(50)]

    assert len(set(ports)) == 50
    assert all(LISTEN_PORTS_FROM <= port < _ephemeral_start() for port in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # nothing holds it


def test_a_port_something_listens_on_is_skipped() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        busy = taken.getsockname()[1]
        discovery._next_port[:] = [busy]  # the next candidate is the busy one

        assert free_port() != busy
