"""The answers around the form: one per path and fact, most specific first."""

from __future__ import annotations

import pytest
import yaml

from bot.domain import knowledge
from bot.domain.checklist import hotline_phrase
from bot.domain.conversation import answer_first, contextual_answer, contextual_intents
from bot.domain.knowledge import PROJECT_ROOT

KINDS = ("misswipe", "failed_charge", "unauthorized", "merchant")
SLOTS = ("bank", "amount", "correct_amount", "date", "merchant", None)


def domain() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


def test_every_in_form_intent_is_in_the_domain_and_ignored_by_the_form() -> None:
    intents = set(domain()["intents"])
    ignored = set(domain()["forms"]["case_form"]["ignored_intents"])
    assert contextual_intents() <= intents
    # Besides the questions: stray input, a look at the case, the user's rights over their data,
    # and a receipt photo with the answers to what was read from it.
    others = {"unclear_input", "check_case_status", "request_checklist"}
    privacy = {"export_my_data", "delete_my_data", "confirm_erase", "cancel_erase"}
    pictures = {"send_receipt", "confirm_receipt", "correct_receipt"}
    assert privacy <= set(knowledge.conversation()["commands"]) and pictures <= intents
    assert ignored - others - privacy - pictures == contextual_intents()


@pytest.mark.parametrize("intent", sorted(contextual_intents()))
@pytest.mark.parametrize("kind", [*KINDS, None])
@pytest.mark.parametrize("slot", SLOTS)
def test_every_question_has_a_filled_answer_on_every_path(
    intent: str, kind: str | None, slot: str | None
) -> None:
    answer = contextual_answer(intent, kind, slot, hotline="卡背面印的官方客服电话")
    assert answer and "{" not in answer and " " not in answer.strip()


def test_the_most_specific_answer_wins() -> None:
    table = knowledge.conversation()["in_form"]["ask_why_needed"]
    hotline = "x"
    assert (
        contextual_answer("ask_why_needed", "merchant", "date", hotline)
        == table["kinds"]["merchant"]["slots"]["date"]
    )
    assert contextual_answer("ask_why_needed", "misswipe", "date", hotline) == table["slots"]["date"]
    assert contextual_answer("ask_why_needed", "misswipe", None, hotline) == table["default"]
    what_now = knowledge.conversation()["in_form"]["ask_what_now"]
    assert (
        contextual_answer("ask_what_now", "merchant", "amount", hotline)
        == what_now["kinds"]["merchant"]["default"]
    )


def test_dont_know_says_where_to_find_the_fact() -> None:
    assert "短信" in contextual_answer("dont_know", "misswipe", "amount", "x")
    assert "签购单" in contextual_answer("dont_know", "merchant", "amount", "x")


def test_the_fraud_path_names_the_hotline_when_the_bank_is_known() -> None:
    known = contextual_answer("ask_what_now", "unauthorized", "amount", hotline_phrase("招行", None))
    assert "招商银行官方客服电话95555" in known and "冻结" in known
    unknown = contextual_answer("ask_what_now", "unauthorized", "bank", hotline_phrase(None, None))
    assert "卡背面印的官方客服电话" in unknown and "95" not in unknown


def test_a_credit_card_line_is_used_for_a_credit_card() -> None:
    assert "40066-95566" in hotline_phrase("中国银行", "credit")
    assert "95566（" in hotline_phrase("中国银行", "debit")


@pytest.mark.parametrize("kind", ["misswipe", "failed_charge", "merchant"])
def test_answer_first_is_short(kind: str) -> None:
    answer = answer_first(kind)
    assert answer is not None and len(answer) < 160


def test_the_fraud_path_answers_with_its_warning_instead() -> None:
    assert answer_first("unauthorized") is None
