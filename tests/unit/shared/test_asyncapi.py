"""Each service's AsyncAPI document lists what it consumes and produces, with payload schemas."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.events.envelope import Envelope
from shared.events.models import CheckInDue, RiskFlagged
from shared.messaging.subscriptions import Subscription
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings


class DocSettings(ServiceSettings):
    service_name: ClassVar[str] = "docs-example"
    model_config = SettingsConfigDict(env_prefix="DOCS_EXAMPLE_")


async def on_check_in_due(event: CheckInDue, envelope: Envelope) -> None:
    """Opens the check-in for the client."""


def test_asyncapi_names_consumed_and_produced_topics_with_their_models() -> None:
    runtime = ServiceRuntime(DocSettings())
    runtime.subscribe(Subscription(CheckInDue, on_check_in_due))
    runtime.produces(RiskFlagged)
    document = runtime.asyncapi().to_specification().to_jsonable()

    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {"check-in-due", "risk-flagged"}
    assert {"CheckInDue", "RiskFlagged"} <= set(document["components"]["schemas"])
    actions = sorted(op["action"] for op in document["operations"].values())
    assert actions == ["receive", "send"]
