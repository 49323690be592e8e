"""Which channels reach a recipient (`domain/channels.py`): those they gave an address for, and the inbox."""

from __future__ import annotations

import pytest

from services.notifications.domain.channels import Channel, Contacts, address_for, available_channels
from services.notifications.store.recipients import contacts_of


@pytest.mark.parametrize(
    ("contacts", "channels"),
    [
        (Contacts("client-1"), ["in_app"]),
        (Contacts("client-1", email="ana@example.org"), ["email", "in_app"]),
        (Contacts("client-1", phone="+15551234567"), ["sms", "in_app"]),
        (Contacts("client-1", push_token="token-123456"), ["push", "in_app"]),
        (
            Contacts("client-1", email="ana@example.org", phone="+15551234567", push_token="token-123456"),
            ["email", "sms", "push", "in_app"],
        ),
        (Contacts("client-1", email="", phone=None), ["in_app"]),
    ],
)
def test_a_recipient_is_reached_on_every_channel_they_gave_an_address_for_and_always_in_the_app(
    contacts: Contacts, channels: list[Channel]
) -> None:
    assert available_channels(contacts) == channels


@pytest.mark.parametrize(
    ("channel", "address"),
    [("email", "ana@example.org"), ("sms", "+15551234567"), ("push", None), ("in_app", "client-1")],
)
def test_each_channel_reaches_its_own_address_and_the_inbox_only_needs_the_id(
    channel: Channel, address: str | None
) -> None:
    contacts = Contacts("client-1", email="ana@example.org", phone="+15551234567")

    assert address_for(contacts, channel) == address


def test_someone_never_registered_has_only_the_inbox() -> None:
    assert available_channels(contacts_of(None, "client-9")) == ["in_app"]
    assert contacts_of(
        {"_id": "client-9", "email": "x@example.org", "timezone": "UTC"}, "client-9"
    ) == Contacts("client-9", email="x@example.org")
