"""A compose project's containers, through the Docker Engine API on its unix socket.

Only what the restart test needs: a service's running containers, how often Docker has
restarted one, and a command run inside one. httpx speaks HTTP over the socket
(`AsyncHTTPTransport(uds=...)`); the host in the URL is ignored. Unversioned paths get the
engine's current API version.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

DOCKER_SOCKET = Path("/var/run/docker.sock")


class Engine:
    """The Docker engine, seen from one compose project (`com.docker.compose.project`)."""

    def __init__(
        self,
        project: str,
        *,
        socket: Path = DOCKER_SOCKET,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.project = project
        self._http = httpx.AsyncClient(
            base_url="http://docker",
            transport=transport or httpx.AsyncHTTPTransport(uds=str(socket)),
            timeout=30,
        )

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def containers(self, service: str) -> list[str]:
        """The ids of the service's running containers (every replica of `--scale`)."""
        labels = [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]
        answer = await self._http.get("/containers/json", params={"filters": json.dumps({"label": labels})})
        answer.raise_for_status()
        return [str(container["Id"]) for container in answer.json()]

    async def inspect(self, container: str) -> dict[str, Any]:
        answer = await self._http.get(f"/containers/{container}/json")
        answer.raise_for_status()
        inspected: dict[str, Any] = answer.json()
        return inspected

    async def restart_count(self, container: str) -> int:
        """How often Docker's restart policy has started the container again."""
        return int((await self.inspect(container))["RestartCount"])

    async def run_inside(self, container: str, command: list[str], *, user: str) -> str:
        """Run `command` in the container as `user` and wait for it; its raw output stream.

        A command that takes the container down may cut the stream short: the connection
        closing is then the command's end, not a failure.
        """
        created = await self._http.post(
            f"/containers/{container}/exec",
            json={"Cmd": command, "User": user, "AttachStdout": True, "AttachStderr": True},
        )
        created.raise_for_status()
        try:
            started = await self._http.post(
                f"/exec/{created.json()['Id']}/start", json={"Detach": False, "Tty": False}
            )
        except (httpx.RemoteProtocolError, httpx.ReadError):
            return ""
        started.raise_for_status()
        return started.content.decode(errors="replace")
