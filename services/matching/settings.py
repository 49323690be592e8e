"""The matching service's settings: everything of `ServiceSettings`, read under `MATCHING_`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import ServiceSettings


class ScoringWeights(BaseSettings):
    """How much each soft factor counts, e.g. `MATCHING_WEIGHT_OUTCOMES=0.2`.

    Any non-negative numbers: the score divides by their sum, so it stays within 0..1.
    The defaults and why they are what they are: `services/matching/domain/scoring.py`.
    """

    model_config = SettingsConfigDict(env_prefix="MATCHING_WEIGHT_", extra="ignore")

    specialty: float = Field(default=0.25, ge=0)
    approach: float = Field(default=0.15, ge=0)
    availability: float = Field(default=0.15, ge=0)
    outcomes: float = Field(default=0.15, ge=0)
    caseload: float = Field(default=0.10, ge=0)
    gender: float = Field(default=0.10, ge=0)
    culture: float = Field(default=0.10, ge=0)

    def as_dict(self) -> dict[str, float]:
        return self.model_dump()


class MatchingSettings(ServiceSettings):
    """`MATCHING_HTTP_PORT` (8002 under `make run`), `MATCHING_MONGODB_DATABASE` (`carepath_matching`), ...

    Matching's own knobs: how many candidates a proposal names, how long their capacity is
    held (and when an unanswered proposal is made again), how many waiting clients one
    trigger re-matches, how strongly outcome records are shrunk, and how stale this replica's in-process
    directory may grow before it reloads everything (it follows the shared journal between).
    """

    service_name: ClassVar[str] = "matching"
    model_config = SettingsConfigDict(env_prefix="MATCHING_", extra="ignore")

    top_k: int = Field(default=3, ge=1, le=20)
    # A ranking reuses a catch-up with the shared journal this recent (one lookup less per
    # intake when busy): a therapist another replica changed meanwhile costs a refused hold,
    # then a ranking caught up, never a wrong proposal. 0: every ranking catches up.
    directory_freshness_seconds: float = Field(default=1.0, ge=0, le=10)
    proposal_ttl_seconds: float = Field(default=86_400.0, gt=0)
    # A client re-proposed after declines, switches or failed bookings gets at most this
    # many proposals per intake: a loop with scheduling (fail, propose, fail...) must end.
    max_proposals_per_intake: int = Field(default=10, ge=1, le=100)
    # Waiting clients a trigger (new availability, capacity, a freed place) re-matches at
    # most, oldest first: a trigger's cost stays bounded however long the waitlist grows.
    waitlist_rematch_per_trigger: int = Field(default=20, ge=1, le=500)
    # Beta prior strength (pseudo-clients) of outcome records, see domain/outcomes.py.
    outcome_prior_strength: float = Field(default=10.0, gt=0)
    # The shared journal of directory changes keeps this many entries; a replica further
    # behind reloads the whole directory (one scan).
    journal_length: int = Field(default=500, ge=10, le=5_000)
    # Safety net for a change whose journal entry was lost (a crash between the write and
    # its journal entry): every replica reloads the directory this often, in the background.
    directory_reload_seconds: float = Field(default=900.0, gt=0)
    weights: ScoringWeights = Field(default_factory=ScoringWeights)
