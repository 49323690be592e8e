"""What the services' API fuzz tests share: the drawn request, how it is sent, what it must not get.

Schemathesis turns every `/v1` operation of a running app's OpenAPI document into a
Hypothesis strategy of requests. A test draws one, swaps some of its path ids for records
that exist (so bodies reach the commands rather than stopping at a 404), sends it in-process
with a token of a drawn role, and asserts no 5xx and a problem+json body on every 4xx.
`FuzzTally` counts the cases each service ran and writes them for the run's summary
(`tests/support/fault_results.py`), so "cases run, server errors 0" can be quoted.

None of the services' documents declares OpenAPI links, so there is no stateful (linked)
run to make: the seeded records play that part.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

import httpx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from tests.support.fault_results import write_result

PROBLEM_JSON = "application/problem+json"

EXAMPLES = int(os.environ.get("CAREPATH_FUZZ_EXAMPLES", "250"))
"""Cases per service: bounded for `make test`; set the variable higher for a deeper hunt."""

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.generate, Phase.target],  # no shrinking: a failure prints its request as drawn
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def requests_of(app: FastAPI) -> SearchStrategy[Any]:
    """Requests to every `/v1` operation of `app`'s OpenAPI document."""
    return schemathesis.openapi.from_dict(app.openapi()).include(path_regex="^/v1/").as_strategy()


def draw_case(data: st.DataObject, requests: SearchStrategy[Any], existing: Mapping[str, str]) -> Any:
    """A drawn request, each of its path ids named in `existing` swapped for that record half the time."""
    case = data.draw(requests, label="request")
    for name, record_id in existing.items():
        if name in (case.path_parameters or {}) and data.draw(st.booleans(), label=f"existing {name}"):
            case.path_parameters[name] = record_id
    return case


def draw_caller(data: st.DataObject, callers: Mapping[str, Mapping[str, str]]) -> Mapping[str, str]:
    """The headers of one of `callers` (role name -> auth headers), the role drawn and labelled."""
    return callers[data.draw(st.sampled_from(sorted(callers)), label="role")]


class FuzzTally:
    """The cases one service's fuzz ran, by answer class, written for the run's summary."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.answers: Counter[str] = Counter()

    async def send(self, http: httpx.AsyncClient, case: Any, headers: Mapping[str, str]) -> httpx.Response:
        """Send `case` through `http` with `headers`; assert the answer is no 5xx and a 4xx is a problem."""
        request = case.as_transport_kwargs(base_url=str(http.base_url), headers=dict(headers))
        body: dict[str, Any] = {"json": request["json"]} if "json" in request else {}
        if "data" in request:
            body = {"content": request["data"]}
        response = await http.request(
            request["method"],
            request["url"],
            headers=request["headers"],
            params=request.get("params"),
            **body,
        )
        self.answers[f"{response.status_code // 100}xx"] += 1
        said = f"{request['method']} {request['url']} -> {response.status_code}: {response.text[:500]}"
        assert response.status_code < 500, said
        if response.status_code >= 400:
            assert response.headers["content-type"] == PROBLEM_JSON, said
        return response

    def write(self) -> None:
        cases = sum(self.answers.values())
        counts = {
            "cases run": cases,
            **dict(sorted(self.answers.items())),
            "server errors": self.answers["5xx"],
        }
        write_result(f"api-fuzz-{self.service}", {"counts": counts})
