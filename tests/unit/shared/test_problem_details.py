"""Bad HTTP input gets problem+json naming the offending field, never echoing its value."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from pymongo.errors import ServerSelectionTimeoutError

from shared.http.limits import BodySizeLimit
from shared.http.problems import Problem, install_problem_handlers
from shared.storage.locks import LockTimeout


class Answer(BaseModel):
    item: int = Field(ge=1, le=9)
    score: int = Field(ge=0, le=3)


def app() -> TestClient:
    application = FastAPI()
    application.add_middleware(BodySizeLimit, max_bytes=4096)
    install_problem_handlers(application)

    @application.post("/v1/answers")
    async def answer(body: Answer) -> dict[str, int]:
        return {"item": body.item}

    @application.get("/v1/intakes/{intake_id}")
    async def missing(intake_id: str) -> None:
        raise Problem(404, "Not Found", f"no intake {intake_id}")

    @application.get("/v1/busy/{kind}")
    async def busy(kind: str) -> None:
        raise (LockTimeout("therapists/t-1") if kind == "lease" else ServerSelectionTimeoutError("down"))

    return TestClient(application, raise_server_exceptions=False)


def test_invalid_body_names_the_field_and_hides_the_value() -> None:
    response = app().post("/v1/answers", json={"item": 9, "score": 7})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"].startswith("body.score:")
    assert body["errors"] == [{"field": "body.score", "message": "Input should be less than or equal to 3"}]
    assert "7" not in response.text


def test_raised_problem_keeps_its_status_and_detail() -> None:
    response = app().get("/v1/intakes/i-1")
    assert response.status_code == 404
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no intake i-1",
        "instance": "/v1/intakes/i-1",
    }


def test_unknown_route_is_problem_json_too() -> None:
    response = app().get("/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_oversized_body_is_refused_with_413_before_it_is_parsed() -> None:
    response = app().post(
        "/v1/answers", content=b"{" + b" " * 10_000 + b"}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "detail": "request body exceeds 4096 bytes",
        "instance": "/v1/answers",
    }


def test_streamed_body_without_length_is_counted_and_refused() -> None:
    def chunks():  # no Content-Length: chunked transfer
        for _ in range(10):
            yield b" " * 1000

    response = app().post("/v1/answers", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_a_held_record_or_unreachable_database_is_503_with_retry_after_not_500() -> None:
    client = app()
    for kind in ("lease", "database"):
        response = client.get(f"/v1/busy/{kind}")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"] == "application/problem+json"
