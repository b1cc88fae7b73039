"""Teach the bot: annotations in Rasa's markup, and an export that Rasa accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from bot.console.store import FlaggedExample
from bot.console.teach import (
    AnnotationError,
    check_annotation,
    clean_text,
    export_nlu,
    load_domain,
    suggest_annotation,
    training_texts,
)
from bot.console.transcripts import Entity, Turn
from bot.domain.clock import now
from bot.domain.knowledge import PROJECT_ROOT
from scripts.validate_data import NO_EXAMPLES, intents_without_examples

ENTITIES = (
    "amount",
    "date",
    "bank",
    "card_last4",
    "card_type",
    "merchant",
    "case_id",
    "cross_border",
    "score",
)


def turn(text: str, *entities: Entity) -> Turn:
    return Turn(event_id=1, speaker="user", at=now(), text=text, entities=entities)


def flagged(
    text: str, intent: str, annotated: str | None = None, minute: int = 0, event_id: int = 1
) -> FlaggedExample:
    return FlaggedExample(
        example_id=event_id,
        sender_id="s1",
        event_id=event_id,
        text=text,
        annotated=annotated or text,
        predicted_intent="nlu_fallback",
        confidence=0.4,
        intent=intent,
        flagged_by="alice",
        flagged_at=datetime(2026, 11, 25, 10, minute),
    )


# Awkward on purpose: a masked card number in brackets, YAML-ish characters, quotes.
EXAMPLES = [
    flagged(
        "我在喜茶买奶茶被扣了两回钱", "report_misswipe", "我在[喜茶](merchant)买奶茶被扣了两回钱", event_id=1
    ),
    flagged("卡 [卡号已隐藏，尾号1111] 刷了 #2 次: 怎么办", "report_misswipe", event_id=2),
    flagged('他说"系统问题"，钱没到账', "report_failed_charge", event_id=3),
    flagged("真人客服在哪儿- 快点", "request_human", event_id=4),
    flagged("你好", "greet", event_id=5),  # already in data/nlu.yml
]


def test_the_domain_lists_every_intent_and_entity() -> None:
    domain = load_domain(PROJECT_ROOT / "domain.yml")
    assert {"report_misswipe", "request_human", "out_of_scope"} <= set(domain.intents)
    assert set(domain.entities) == set(ENTITIES)


def test_a_suggestion_marks_up_only_entities_the_model_learns() -> None:
    text = "我在华联超市刷了3000元"
    suggestion = suggest_annotation(
        turn(
            text,
            Entity("merchant", "华联超市", "华联超市", 2, 6, "DIETClassifier"),
            Entity("amount", "3000", "3000元", 8, 13, "NormalisedSpacyEntityExtractor"),
        )
    )
    assert suggestion == "我在[华联超市](merchant)刷了3000元"
    assert suggest_annotation(
        turn("[卡号已隐藏，尾号1111]", Entity("merchant", "x", "x", 0, 3, "DIETClassifier"))
    ) == ("[卡号已隐藏，尾号1111]")
    assert suggest_annotation(turn("a\tb\nc")) == "a b c"


@pytest.mark.parametrize(
    ("annotated", "code"),
    [
        ("我在[华联超市](shop)刷卡", "unknown_entity"),
        ("我在[ 华联超市](merchant)刷卡", "entity_spaces"),
        ("我在[华联](merchant)超市刷了卡", "text_changed"),
        ("我在华联超市刷卡了", "text_changed"),
    ],
)
def test_an_annotation_must_keep_the_text_and_use_known_entities(annotated: str, code: str) -> None:
    with pytest.raises(AnnotationError) as error:
        check_annotation(annotated, "我在华联超市刷卡", ENTITIES)
    assert error.value.code == code


def test_a_good_annotation_is_cleaned_and_kept() -> None:
    assert (
        check_annotation(" 我在[华联超市](merchant)刷卡\n", "我在华联超市刷卡", ENTITIES)
        == "我在[华联超市](merchant)刷卡"
    )
    assert (
        check_annotation("[卡号已隐藏，尾号1111]", "[卡号已隐藏，尾号1111]", ENTITIES)
        == "[卡号已隐藏，尾号1111]"
    )


def test_the_export_groups_by_intent_skips_known_texts_and_keeps_the_latest_annotation() -> None:
    later = flagged(
        "我在喜茶买奶茶被扣了两回钱", "report_misswipe", "我在喜茶买奶茶被扣了两回钱", minute=5, event_id=9
    )
    export = export_nlu([*EXAMPLES, later], training_texts(PROJECT_ROOT / "data"), datetime(2026, 11, 25, 12))
    assert export.exported == 4 and [example.text for example in export.skipped] == ["你好"]
    assert export.yaml.splitlines()[2:] == [
        'version: "3.1"',
        "nlu:",
        "- intent: report_failed_charge",
        "  examples: |",
        '    - 他说"系统问题"，钱没到账',
        "- intent: report_misswipe",
        "  examples: |",
        "    - 卡 ［卡号已隐藏，尾号1111］ 刷了 #2 次: 怎么办",
        "    - 我在喜茶买奶茶被扣了两回钱",
        "- intent: request_human",
        "  examples: |",
        "    - 真人客服在哪儿- 快点",
    ]
    empty = export_nlu([], set(), datetime(2026, 11, 25, 12))
    assert empty.exported == 0 and 'version: "3.1"\nnlu: []' in empty.yaml


def test_rasa_reads_the_export_back_with_its_entities() -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    export = export_nlu(EXAMPLES, set(), datetime(2026, 11, 25, 12))
    data = RasaYAMLReader().reads(export.yaml)
    by_text = {message.get("text"): message for message in data.training_examples}
    assert set(by_text) == {
        clean_text(example.text).replace("[", "［").replace("]", "］") for example in EXAMPLES
    }
    annotated = by_text["我在喜茶买奶茶被扣了两回钱"]
    assert annotated.get("intent") == "report_misswipe"
    assert [(entity["entity"], entity["value"]) for entity in annotated.get("entities")] == [
        ("merchant", "喜茶")
    ]
    assert not by_text["卡 ［卡号已隐藏，尾号1111］ 刷了 #2 次: 怎么办"].get("entities")


@pytest.mark.slow
def test_rasa_data_validate_accepts_the_export_merged_into_the_project(tmp_path: Path) -> None:
    for name in ("domain.yml", "config.yml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "data", tmp_path / "data")
    export = export_nlu(EXAMPLES, training_texts(tmp_path / "data"), now())
    (tmp_path / "data" / "console_flagged.yml").write_text(export.yaml, encoding="utf-8")
    run = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "data", "validate", "--data", str(tmp_path / "data"),
         "--domain", str(tmp_path / "domain.yml"), "--config", str(tmp_path / "config.yml")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    # The project's own data only warns about responses that custom actions utter and
    # intents that buttons or a rule set (scripts/validate_data.py accepts both);
    # the merged examples must add no warning of any kind.
    example_free = intents_without_examples()
    warnings = re.findall(r"UserWarning: (.+)", output)
    for warning in warnings:
        missing = NO_EXAMPLES.search(warning)
        assert re.search(r"The utterance 'utter_\w+' is not used in any story or rule", warning) or (
            missing and missing["name"] in example_free
        ), warning
    assert "console_flagged" not in output
