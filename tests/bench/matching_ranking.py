"""Matching benchmark: ranking latency at directory scale, and intake-to-proposal time end to end.

1. Ranking latency (in process, no I/O): synthetic directories of 1k, 10k and 100k
   therapists and a stream of synthetic intakes, both from a fixed seed, ranked exactly as a
   proposal ranks them: the directory index narrows the pool by the hard constraints, the
   rest of the filters and the soft score run on the pool, top-k by heap. Reports p50, p95
   and p99 per intake, the mean pool size, and the time to build the index. Goals on the
   2-core reference machine: p99 <= 10 ms at 10k and <= 100 ms at 100k.
2. Intake to proposal (real Kafka and MongoDB): the matching app runs in process on a
   topic prefix and database of its own, with a directory of a few hundred therapists; a
   few dozen `intake-completed` events are published at a steady pace, and each one's time
   from its publication (the producer confirmed it) to its `match-proposed` record's
   publication (the record's timestamp, set when matching's outbox relay sent it) is
   reported as p50, p95 and max.

    python -m tests.bench.matching_ranking [--sizes 1000,10000,100000] [--intakes 300]
        [--e2e-intakes 40] [--skip-e2e] [--json path]

`run()` returns every figure as a dict, for `make bench` to print and keep. Infrastructure
comes from `KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URI` (else the local defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.matching.commands.propose_matches import SHORTLIST_SLACK
from services.matching.domain.availability import week_key
from services.matching.domain.directory_index import DirectoryIndex
from services.matching.domain.filters import ProposalRound
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.outcomes import OutcomeBook, OutcomeCounts
from services.matching.domain.ranking import rank_directory
from services.matching.domain.scoring import Scorer
from services.matching.store.therapists import therapist_from_document
from shared.events.models import IntakeCompleted
from shared.messaging.broker import kafka_options_at

SEED = 20_260_302
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TOP_K = 3
SHORTLIST = TOP_K + SHORTLIST_SLACK  # what propose_matches ranks on its first round
GOALS_P99_MS = {10_000: 10.0, 100_000: 100.0}

# Where people live, roughly by population: a few large jurisdictions and a long tail.
STATE_CODES = (
    "CA TX FL NY PA IL OH GA NC MI NJ VA WA AZ MA TN IN MO MD WI "
    "CO MN SC AL LA KY OR OK CT UT IA NV AR MS KS NM NE ID WV HI "
    "NH ME RI MT DE SD ND AK VT WY DC"
)
STATES = [f"US-{code}" for code in STATE_CODES.split(" ")]
COUNTRIES = ["GB-ENG", "GB-SCT", "NL", "DE", "IE", "CA-ON", "CA-BC", "AU-NSW", "ES", "MX-CMX"]
JURISDICTIONS = STATES + COUNTRIES
WEIGHTS = [1 / (rank_ + 1) ** 0.8 for rank_ in range(len(JURISDICTIONS))]
LANGUAGES = {"en": 0.92, "es": 0.22, "fr": 0.05, "zh": 0.04, "vi": 0.02, "ko": 0.02, "de": 0.04, "pt": 0.03}
CONCERNS = [
    "stress", "anxiety", "depression", "trauma", "grief_loss", "life_transition", "relationships",
    "personal_growth", "ocd", "ptsd", "substance_use", "disordered_eating", "somatic", "career_change",
]  # fmt: skip
APPROACHES = ["cbt", "act", "psychodynamic", "solution_focused", "integrative"]
INSURERS = ["aetna", "cigna", "uhc", "bcbs", "kaiser", "optum"]
ZONES = ["America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York", "Europe/London"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# --------------------------------------------------------------------------- synthetic data


def _windows(rng: random.Random, count: int) -> list[dict[str, str]]:
    chosen = []
    for day in rng.sample(DAYS, count):
        start = rng.randint(7, 19)
        chosen.append(
            {"day": day, "start": f"{start:02d}:00", "end": f"{min(24, start + rng.randint(1, 4)):02d}:00"}
        )
    return chosen


def therapist_document(rng: random.Random, number: int) -> dict[str, Any]:
    """One synthetic directory document, shaped as `store/therapists.py` stores it."""
    home = rng.choices(JURISDICTIONS, WEIGHTS)[0]
    licensed = {home, *rng.choices(JURISDICTIONS, WEIGHTS, k=rng.choice([0, 0, 1, 2]))}
    languages = [tag for tag, share in LANGUAGES.items() if rng.random() < share] or ["en"]
    formats = (
        ["video"] if rng.random() < 0.6 else (["video", "in_person"] if rng.random() < 0.7 else ["in_person"])
    )
    capacity = rng.randint(10, 35)
    in_care = rng.randint(0, capacity)
    profile = {
        "gender": rng.choice(["female", "female", "male", "nonbinary"]),
        "languages": languages,
        "licensed_jurisdictions": sorted(licensed),
        "specialties": [
            {"concern": c, "years": rng.randint(0, 25)} for c in rng.sample(CONCERNS, rng.randint(2, 5))
        ],
        "approaches": rng.sample(APPROACHES, rng.randint(1, 2)),
        "competencies": rng.sample(
            ["lgbtq_affirming", "bipoc", "faith_based", "neurodiversity"], rng.randint(0, 2)
        ),
        "communication_style": rng.choice(["direct", "gentle", "structured", None]),
        "formats": formats,
        "in_person_regions": [home] if "in_person" in formats else [],
        "price_per_session": rng.randint(60, 250),
        "insurers": rng.sample(INSURERS, rng.randint(0, 3)),
        "accepting_new_clients": rng.random() < 0.85,
        "capacity": capacity,
        "high_acuity": rng.random() < 0.3,
        "timezone": rng.choice(ZONES),
    }
    return {
        "_id": f"t-{number:06d}",
        "profile": profile,
        "caseload": [
            {"client_id": f"c-{number}-{i}", "match_id": None, "since": NOW} for i in range(in_care)
        ],
        "holds": [
            {
                "match_id": f"m-{number}-{i}",
                "client_id": "x",
                "expires_at": NOW + timedelta(hours=rng.randint(-2, 20)),
            }
            for i in range(rng.choice([0, 0, 0, 1, 2]))
        ],
        "availability": None
        if rng.random() < 0.2
        else {"timezone": profile["timezone"], "weekly": _windows(rng, rng.randint(2, 5)), "changed_at": NOW},
        "revision": 1,
    }


def intake_data(rng: random.Random, number: int) -> IntakeCompleted:
    preferences: dict[str, Any] = {"format": rng.choice(["video", "video", "video", "either", "in_person"])}
    if rng.random() < 0.15:
        preferences["language"] = "es"
    if rng.random() < 0.5:
        preferences["max_price_per_session"] = rng.randint(80, 220)
    if rng.random() < 0.5:
        preferences["insurer"] = rng.choice(INSURERS)
    if rng.random() < 0.3:
        preferences["approach"] = rng.choice(APPROACHES)
    if rng.random() < 0.3:
        preferences["therapist_gender"] = rng.choice(["female", "male"])
    if rng.random() < 0.2:
        preferences["competencies"] = ["lgbtq_affirming"]
    phq9, gad7 = rng.randint(0, 27), rng.randint(0, 21)
    return IntakeCompleted.model_validate(
        {
            "intake_id": f"intake-{number}",
            "client_id": f"client-{number}",
            "submitted_at": NOW,
            "jurisdiction": rng.choices(JURISDICTIONS, WEIGHTS)[0],
            "timezone": rng.choice(ZONES),
            "languages": ["en"] if rng.random() < 0.85 else ["es", "en"],
            "concerns": rng.sample(CONCERNS, rng.randint(1, 3)),
            "phq9": {"total": phq9, "severity": _phq9_band(phq9), "item9": 0},
            "gad7": {"total": gad7, "severity": _gad7_band(gad7)},
            "risk_level": rng.choices(["none", "low", "moderate", "high"], [70, 20, 8, 2])[0],
            "preferences": preferences,
            "availability": _windows(rng, rng.randint(2, 5)),
        }
    )


def _phq9_band(total: int) -> str:
    return (
        "minimal"
        if total < 5
        else "mild"
        if total < 10
        else "moderate"
        if total < 15
        else ("moderately_severe" if total < 20 else "severe")
    )


def _gad7_band(total: int) -> str:
    return "minimal" if total < 5 else "mild" if total < 10 else "moderate" if total < 15 else "severe"


def directory(size: int, *, seed: int = SEED) -> tuple[DirectoryIndex, float]:
    """A synthetic directory of `size` with outcome records, and the seconds indexing took."""
    rng = random.Random(seed)
    documents = [therapist_document(rng, n) for n in range(size)]
    outcomes = OutcomeBook()
    started = time.perf_counter()
    index = DirectoryIndex(outcomes)
    for document in documents:
        therapist = therapist_from_document(document)
        assert therapist is not None
        index.put(therapist)
    index.prepare(week_key(NOW))  # as the service's read model does when it loads
    built = time.perf_counter() - started
    for document in rng.sample(documents, size // 2):
        for concern in rng.sample(CONCERNS, 2):
            clients = rng.randint(1, 40)
            improved = rng.randint(0, clients)
            outcomes.put(
                document["_id"], concern, OutcomeCounts(clients, improved, rng.randint(0, clients - improved))
            )
    return index, built


# --------------------------------------------------------------------------- ranking latency


def percentiles_ms(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 3)

    return {
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def rank_once(index: DirectoryIndex, needs: ClientNeeds, match_id: str) -> int:
    """What one proposal's ranking does; returns how many candidates it found."""
    moment = ProposalRound(now=NOW, match_id=match_id)
    scorer = Scorer(needs, now=NOW, outcomes=index.outcomes, match_id=match_id)
    return len(rank_directory(index, needs, moment, scorer, SHORTLIST).candidates)


def ranking_latency(size: int, intakes: int, *, seed: int = SEED) -> dict[str, Any]:
    index, built = directory(size, seed=seed)
    rng = random.Random(seed + size)
    needs = [ClientNeeds.from_intake(intake_data(rng, n)) for n in range(intakes)]
    for warm in needs[:10]:
        rank_once(index, warm, "warm-up")
    samples: list[float] = []
    cpu: list[float] = []
    pools: list[int] = []
    empty = 0
    for number, client in enumerate(needs):
        started, cpu_started = time.perf_counter(), time.thread_time()
        found = rank_once(index, client, f"m-{number}")
        samples.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - cpu_started)
        pools.append(len(index.pool(client).ids))
        empty += found == 0
    figures = percentiles_ms(samples)
    cpu_figures = percentiles_ms(cpu)
    goal = GOALS_P99_MS.get(size)
    return {
        "therapists": size,
        "intakes": intakes,
        **figures,
        "cpu_p50_ms": cpu_figures["p50_ms"],
        "cpu_p99_ms": cpu_figures["p99_ms"],
        "mean_pool": round(statistics.fmean(pools), 1),
        "max_pool": max(pools),
        "empty_proposals": empty,
        "index_build_seconds": round(built, 3),
        "goal_p99_ms": goal,
        "meets_goal": None if goal is None else figures["p99_ms"] <= goal,
    }


# --------------------------------------------------------------------------- end to end


async def intake_to_proposal(
    intakes: int,
    *,
    therapists: int = 300,
    interval_seconds: float = 0.5,
    kafka_bootstrap_servers: str | None = None,
    mongodb_uri: str | None = None,
    seed: int = SEED,
) -> dict[str, Any]:
    """Publish `intakes` intake-completed at a steady pace; time each to its match-proposed."""
    from aiokafka import AIOKafkaConsumer
    from pymongo import AsyncMongoClient

    from services.matching.app import build_app
    from services.matching.commands.put_therapist import PutTherapist, put_therapist
    from services.matching.domain.profile import TherapistProfile
    from services.matching.settings import MatchingSettings
    from shared.settings import KafkaSettings, MongoSettings
    from tests.support.kafka import event, publish_events

    bootstrap = kafka_bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    uri = mongodb_uri or os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    tag = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"bench-matching-{tag}-")
    settings = MatchingSettings(
        kafka=kafka,
        mongo=MongoSettings(uri=uri),
        mongodb_database=f"bench_matching_{tag}",
        relay_poll_interval_seconds=0.1,
        timer_poll_interval_seconds=1.0,
    )
    rng = random.Random(seed)
    app = build_app(settings)
    matching = app.state.context
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        async with app.state.runtime:
            home = "US-CA"
            for number in range(therapists):
                document = therapist_document(rng, number)
                profile = document["profile"] | {
                    "licensed_jurisdictions": sorted({home, *document["profile"]["licensed_jurisdictions"]}),
                    "accepting_new_clients": True,
                    "in_person_regions": [home] if "in_person" in document["profile"]["formats"] else [],
                }
                command = PutTherapist(document["_id"], TherapistProfile.model_validate(profile))
                await put_therapist(command, matching)
            consumer = AIOKafkaConsumer(
                kafka.topic("match-proposed"),
                **kafka_options_at(bootstrap),
                group_id=f"bench-reader-{tag}",
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                metadata_max_age_ms=1000,
            )
            await consumer.start()
            try:
                await _warm_up(matching, publish_events, event, kafka, rng, consumer)
                published: dict[str, float] = {}
                proposed: dict[str, float] = {}
                for number in range(intakes):
                    data = intake_data(rng, 10_000 + number).model_copy(update={"jurisdiction": home})
                    await publish_events(kafka, event(data))
                    published[data.client_id] = time.time()  # confirmed by the broker (acks=all)
                    await _collect(consumer, proposed, timeout=interval_seconds)
                deadline = time.monotonic() + 60
                while len(proposed) < len(published) and time.monotonic() < deadline:
                    await _collect(consumer, proposed, timeout=0.5)
            finally:
                await consumer.stop()
        latencies = [max(0.0, proposed[c] - published[c]) for c in published if c in proposed]
        return {
            "intakes": intakes,
            "therapists": therapists,
            "interval_seconds": interval_seconds,
            "proposed": len(latencies),
            **(percentiles_ms(latencies) if latencies else {}),
        }
    finally:
        await mongo.drop_database(settings.database_name)
        await mongo.close()
        await _delete_topics(bootstrap, kafka.topic_prefix)


async def _warm_up(
    matching: Any, publish_events: Any, event: Any, kafka: Any, rng: random.Random, consumer: Any
) -> None:
    """One intake through the whole path first: consumer groups joined, directory loaded."""
    data = intake_data(rng, 0).model_copy(update={"jurisdiction": "US-CA", "client_id": "warm-up"})
    await publish_events(kafka, event(data))
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 120
    while "warm-up" not in seen and time.monotonic() < deadline:
        await _collect(consumer, seen, timeout=0.5)


async def _collect(consumer: Any, into: dict[str, float], *, timeout: float) -> None:
    batch = await consumer.getmany(timeout_ms=int(timeout * 1000))
    for records in batch.values():
        for record in records:
            into.setdefault(json.loads(record.value)["client_id"], record.timestamp / 1000)


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**kafka_options_at(bootstrap))
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    except Exception:  # noqa: S110 - cleanup is best effort; leftover topics carry the run's prefix
        pass
    finally:
        await admin.close()


# --------------------------------------------------------------------------- entry points


async def run(
    sizes: Sequence[int] = (1_000, 10_000, 100_000),
    *,
    intakes: int = 300,
    e2e_intakes: int = 40,
    end_to_end: bool = True,
    kafka_bootstrap_servers: str | None = None,
    mongodb_uri: str | None = None,
) -> dict[str, Any]:
    """Every matching figure: ranking latency per directory size, then intake to proposal."""
    results: dict[str, Any] = {"ranking": [ranking_latency(size, intakes) for size in sizes]}
    if end_to_end:
        results["intake_to_proposal"] = await intake_to_proposal(
            e2e_intakes, kafka_bootstrap_servers=kafka_bootstrap_servers, mongodb_uri=mongodb_uri
        )
    return results


def summary(results: dict[str, Any]) -> str:
    lines = ["matching ranking latency (in process, per intake)"]
    lines.append(
        f"  {'therapists':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'cpu p99':>8} {'pool':>7}"
        f" {'goal':>16}"
    )
    for row in results["ranking"]:
        goal = (
            ""
            if row["goal_p99_ms"] is None
            else f"p99<={row['goal_p99_ms']:g} " + ("met" if row["meets_goal"] else "MISSED")
        )
        lines.append(
            f"  {row['therapists']:>10} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['p99_ms']:>8}"
            f" {row['cpu_p99_ms']:>8} {row['mean_pool']:>7} {goal:>16}"
        )
    e2e = results.get("intake_to_proposal")
    if e2e:
        lines.append(
            "intake-completed published -> match-proposed published"
            f" ({e2e['proposed']}/{e2e['intakes']} intakes, {e2e['therapists']} therapists,"
            f" one every {e2e['interval_seconds']} s):"
            f" p50 {e2e.get('p50_ms')} ms, p95 {e2e.get('p95_ms')} ms, max {e2e.get('max_ms')} ms"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--intakes", type=int, default=300)
    parser.add_argument("--e2e-intakes", type=int, default=40)
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)
    from shared.observability.logs import configure_logging

    configure_logging("bench", level="WARNING")
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()]
    results = asyncio.run(
        run(sizes, intakes=args.intakes, e2e_intakes=args.e2e_intakes, end_to_end=not args.skip_e2e)
    )
    print(summary(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
