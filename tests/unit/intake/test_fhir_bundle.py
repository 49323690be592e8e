"""The FHIR R4 export of a submitted intake validates against fhir.resources' R4B models.

fhir.resources 8 ships R5 as its default package; `fhir.resources.R4B` holds the models
of FHIR 4.3, which is wire-compatible with R4 for the resources used here.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from services.intake.api.fhir import intake_bundle
from tests.unit.intake import samples


async def submitted() -> dict[str, Any]:
    return await samples.submitted(samples.context(), phq9=[0, 1, 2, 3, 0, 1, 2, 3, 0])


def loinc(resource: Any) -> str:
    return str(resource.code.coding[0].code)


async def test_the_bundle_validates_and_holds_responses_and_observations_per_instrument() -> None:
    bundle = Bundle.model_validate(intake_bundle(await submitted()))
    resources = [entry.resource for entry in bundle.entry or []]
    responses = [r for r in resources if isinstance(r, QuestionnaireResponse)]
    observations = {loinc(r): r for r in resources if isinstance(r, Observation)}

    assert bundle.type == "collection"
    assert [r.questionnaire for r in responses] == [
        "http://loinc.org/q/44249-1",
        "http://loinc.org/q/69737-5",
    ]
    assert set(observations) == {"44249-1", "44261-6", "69737-5", "70274-6"}
    assert observations["44261-6"].valueInteger == 12
    assert observations["70274-6"].valueInteger == 14


async def test_answers_carry_the_loinc_answer_codes() -> None:
    bundle = Bundle.model_validate(intake_bundle(await submitted()))
    phq9 = next(e.resource for e in bundle.entry or [] if isinstance(e.resource, QuestionnaireResponse))
    items = phq9.item or []
    codes = [
        answer.valueCoding.code for item in items[:9] for answer in item.answer or [] if answer.valueCoding
    ]
    by_answer = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]  # 0 not at all … 3 nearly every day
    assert codes == [by_answer[answer] for answer in [0, 1, 2, 3, 0, 1, 2, 3, 0]]
    assert (items[0].linkId, items[8].linkId) == ("44250-9", "44260-8")


async def test_references_resolve_within_the_bundle_and_no_free_text_goes_out() -> None:
    document = intake_bundle(await submitted())
    urls = {entry["fullUrl"] for entry in document["entry"]}
    for entry in document["entry"]:
        resource = entry["resource"]
        for link in [*resource.get("derivedFrom", []), *resource.get("hasMember", [])]:
            assert link["reference"] in urls
    assert samples.BACKGROUND not in str(document) and samples.GOAL_TEXT not in str(document)
