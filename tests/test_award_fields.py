"""The award record's fields and values are written once (`core.award`):
every place that lists them reads that one list, so they cannot drift."""

from __future__ import annotations

from typing import get_args

import rewardrules
from rewardrules.check import templates
from rewardrules.core import award
from rewardrules.score import schema

from .conftest import RULESETS

RULESET = (RULESETS / "partner_and_customer.rules").read_text(encoding="utf-8")


def test_the_contract_models_list_the_fields_in_the_contracts_order() -> None:
    assert tuple(schema.Award.model_fields)[: len(award.CONTRACT_FIELDS)] == award.CONTRACT_FIELDS
    assert get_args(schema.Award.model_fields["kind"].annotation) == award.KINDS
    assert get_args(schema.Award.model_fields["role"].annotation) == award.ROLES
    assert get_args(schema.Award.model_fields["status"].annotation) == award.STATUSES


def test_a_compiled_rewards_record_has_the_contracts_fields_in_order() -> None:
    compiled = rewardrules.compile(RULESET).compiled
    records = [reward.record for milestone in compiled.milestones for reward in milestone.rewards]
    assert records
    for record in records:
        assert tuple(record) == (*award.CONTRACT_FIELDS, "program", "message")
        assert record["status"] == "confirmed"
        assert record["kind"] in award.KINDS


def test_messages_may_name_every_field_an_award_pays() -> None:
    assert set(award.PAYOUT_FIELDS) <= set(templates.AWARD_NAMES)
