"""The journey suite's view of a system running elsewhere (tests/e2e/journey/external.py,
docker_engine.py): its environment, its mail folder and the Docker Engine requests, no servers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from shared.clock import speed_of
from tests.e2e.journey.docker_engine import Engine
from tests.e2e.journey.external import MailFolder, external_system

ENVIRONMENT = {
    "JOURNEY_INTAKE_URL": "http://gateway:8001/",
    "JOURNEY_MATCHING_URL": "http://gateway:8002",
    "JOURNEY_SCHEDULING_URL": "http://gateway:8003",
    "JOURNEY_NOTIFICATIONS_URL": "http://gateway:8004",
    "JOURNEY_MAIL_DIR": "/sent/mail",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "NOTIFICATIONS_ON_CALL_ROTA": "oncall-1, oncall-2",
    "DEMO_CLOCK_SPEED": "3600",
    "DEMO_CLOCK_EPOCH": datetime.now(UTC).isoformat(),  # the stack's clock started just now
}


def mail(to: str, subject: str, body: str = "Hello") -> bytes:
    message = EmailMessage()
    message["To"], message["From"], message["Subject"] = to, "care@carepath.example", subject
    message.set_content(body)
    return bytes(message)


def test_the_environment_names_where_each_service_answers_and_the_unprefixed_topics() -> None:
    system = external_system(ENVIRONMENT)

    assert system.url("intake", "/intakes") == "http://gateway:8001/v1/intakes"
    assert system.url("notifications", "/recipients/r") == "http://gateway:8004/v1/recipients/r"
    assert (system.kafka.bootstrap_servers, system.kafka.topic("session-booked")) == (
        "kafka:9092",
        "session-booked",
    )
    assert system.rota == ["oncall-1", "oncall-2"]
    assert speed_of(system.clock) == 3600
    assert (system.processes, system.databases, system.replicas) == ({}, {}, {})


def test_a_missing_setting_is_named_with_every_other_missing_one() -> None:
    environment = {
        k: v for k, v in ENVIRONMENT.items() if k not in ("JOURNEY_MATCHING_URL", "JOURNEY_MAIL_DIR")
    }

    with pytest.raises(RuntimeError, match="JOURNEY_MATCHING_URL, JOURNEY_MAIL_DIR"):
        external_system(environment)


def test_the_mail_folder_is_read_again_on_each_look_in_name_order(tmp_path: Path) -> None:
    folder = MailFolder(tmp_path / "mail")
    assert folder.messages == []  # the sink has sent nothing yet

    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "20260101T000002-00002.eml").write_bytes(mail("b@x.example", "Second"))
    (tmp_path / "mail" / "20260101T000001-00001.eml").write_bytes(mail("a@x.example", "First"))
    (tmp_path / "mail" / "notes.txt").write_text("not a mail")
    assert [str(m["Subject"]) for m in folder.messages] == ["First", "Second"]

    (tmp_path / "mail" / "20260101T000003-00003.eml").write_bytes(mail("c@x.example", "Third"))
    assert [str(m["To"]) for m in folder.messages] == ["a@x.example", "b@x.example", "c@x.example"]


def test_a_mail_file_caught_half_written_is_read_whole_on_the_next_look(tmp_path: Path) -> None:
    whole = mail("a@x.example", "Booked", body="Your session is booked.")
    path = tmp_path / "20260101T000001-00001.eml"
    path.write_bytes(whole[: whole.index(b"Subject")])
    folder = MailFolder(tmp_path)
    assert folder.messages[0]["Subject"] is None

    path.write_bytes(whole)
    (message,) = folder.messages
    assert str(message["Subject"]) == "Booked"
    assert "Your session is booked." in str(message.get_body(("plain",)))


async def test_the_engine_finds_a_services_containers_by_their_compose_labels() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{"Id": "abc"}, {"Id": "def"}])

    async with Engine("carepath", transport=httpx.MockTransport(answer)) as engine:
        assert await engine.containers("matching") == ["abc", "def"]

    (request,) = seen
    assert request.url.path == "/containers/json"
    assert json.loads(request.url.params["filters"]) == {
        "label": ["com.docker.compose.project=carepath", "com.docker.compose.service=matching"]
    }


async def test_a_command_runs_inside_the_container_as_the_given_user_and_is_waited_for() -> None:
    seen: list[tuple[str, dict[str, object]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, json.loads(request.content)))
        if request.url.path.endswith("/exec"):
            return httpx.Response(201, json={"Id": "exec-1"})
        return httpx.Response(200, content=b"")

    async with Engine("carepath", transport=httpx.MockTransport(answer)) as engine:
        await engine.run_inside("abc", ["sh", "-c", "kill -9 -1"], user="10001")

    (create_path, create), (start_path, start) = seen
    assert create_path == "/containers/abc/exec"
    assert (create["Cmd"], create["User"]) == (["sh", "-c", "kill -9 -1"], "10001")
    assert (start_path, start["Detach"]) == ("/exec/exec-1/start", False)


async def test_a_command_that_takes_its_container_down_with_the_stream_still_counts_as_run() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/exec"):
            return httpx.Response(201, json={"Id": "exec-1"})
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    async with Engine("carepath", transport=httpx.MockTransport(answer)) as engine:
        assert await engine.run_inside("abc", ["sh", "-c", "kill -9 -1"], user="10001") == ""
