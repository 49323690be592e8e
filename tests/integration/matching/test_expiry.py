"""Expiry on the real broker and database: an unanswered proposal is made again, and says so.

This module runs a service of its own with proposals that lapse after a second and a half
(the shared one keeps the default day, which its other tests rely on), and at most three
proposals per intake, so the whole chain (proposed, expired, proposed again... then the
operator's turn) plays out in a few seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.http.auth import Role
from tests.integration.matching.service import (
    Place,
    RunningMatching,
    bearer,
    candidate_ids,
    new_id,
    running_matching,
)
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place

TTL_SECONDS = 1.5
MAX_PROPOSALS = 3


@pytest.fixture(scope="module")
async def lapsing(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[RunningMatching]:
    async with (
        isolated_place(infrastructure, mongo_client, "matching_expiry") as place,
        running_matching(
            place.kafka,
            place.mongo,
            place.database,
            proposal_ttl_seconds=TTL_SECONDS,
            max_proposals_per_intake=MAX_PROPOSALS,
        ) as service,
    ):
        yield service


async def test_an_unanswered_proposal_expires_and_is_proposed_again_with_origin_expired(
    lapsing: RunningMatching,
) -> None:
    t_a = new_id("t-a")
    t_b = new_id("t-b")
    place = Place()
    await lapsing.put_therapists(place, (t_a, {}), (t_b, {}))
    data, first = await lapsing.propose(place)
    proposals = await lapsing.published.wait_for("match-proposed", data.client_id, MAX_PROPOSALS)
    assert [p["origin"] for p in proposals] == ["intake", "expired", "expired"]
    assert [p["predecessor_match_id"] for p in proposals] == [
        None,
        first["match_id"],
        proposals[1]["match_id"],
    ]
    assert all(candidate_ids(p) == [t_a, t_b] for p in proposals)  # unanswered, not declined
    await asyncio.sleep(TTL_SECONDS + 1.5)
    assert len(lapsing.published.of("match-proposed", data.client_id)) == MAX_PROPOSALS  # then an operator
    me = bearer(data.client_id, Role.client)
    listed = (await lapsing.http.get(f"/v1/clients/{data.client_id}/matches", headers=me)).json()["items"]
    assert [m["status"] for m in listed] == ["expired"] * MAX_PROPOSALS
    assert [m["successor"] for m in listed] == [None, proposals[2]["match_id"], proposals[1]["match_id"]]


async def test_an_empty_proposal_does_not_expire_into_another(lapsing: RunningMatching) -> None:
    place = Place()  # nobody licensed here
    data, empty = await lapsing.propose(place)
    assert empty["candidates"] == [] and empty["waitlisted"] is True
    await asyncio.sleep(TTL_SECONDS + 1.0)
    assert len(lapsing.published.of("match-proposed", data.client_id)) == 1
