"""Teach the bot: annotate misunderstood messages and export them as Rasa NLU training data.

Staff correct a message in Rasa's own markup, ``在[华联超市](merchant)被扣了两次``,
so what they type is what gets merged into ``data/``. Only entities that DIET
learns are pre-filled (the rule-based ones are found without examples).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import yaml

from bot.console.store import FlaggedExample
from bot.console.transcripts import Turn

NLU_FORMAT_VERSION = "3.1"
ANNOTATION = re.compile(r"\[(?P<text>[^\[\]()]+)\]\((?P<entity>[A-Za-z_][\w-]*)\)")
# Extractors whose entities come from training examples, as opposed to rules.
LEARNED_EXTRACTORS = frozenset({"DIETClassifier", "CRFEntityExtractor"})


class AnnotationError(ValueError):
    """``code`` names the problem; the template words it."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Domain:
    intents: tuple[str, ...]
    entities: tuple[str, ...]


def load_domain(path: Path) -> Domain:
    return _load_domain(path.resolve(), path.stat().st_mtime)


@lru_cache(maxsize=4)
def _load_domain(path: Path, _mtime: float) -> Domain:
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}

    def names(items: Iterable[object]) -> tuple[str, ...]:
        # An entry is a name, or a one-key mapping from the name to its options.
        return tuple(next(iter(item)) if isinstance(item, dict) else str(item) for item in items or [])

    return Domain(intents=names(content.get("intents")), entities=names(content.get("entities")))


def clean_text(text: str) -> str:
    """One line without control characters, as an NLU example must be."""
    text = "".join(" " if unicodedata.category(char)[0] == "C" else char for char in text)
    return " ".join(text.split())


def plain_text(annotated: str) -> str:
    return ANNOTATION.sub(lambda match: match["text"], annotated)


def suggest_annotation(turn: Turn) -> str:
    """The message with the entities that DIET found (and would learn from) marked up."""
    text = clean_text(turn.text)
    if text != turn.text:
        return text
    spans = sorted(
        (
            entity
            for entity in turn.entities
            if entity.extractor in LEARNED_EXTRACTORS and entity.start is not None
        ),
        key=lambda entity: entity.start or 0,
    )
    pieces, position = [], 0
    for entity in spans:
        start, end = entity.start or 0, entity.end or 0
        if start < position or end > len(text) or not text[start:end].strip() or _has_markup(text[start:end]):
            continue
        pieces += [text[position:start], f"[{text[start:end]}]({entity.entity})"]
        position = end
    return "".join([*pieces, text[position:]])


def _has_markup(text: str) -> bool:
    return any(char in text for char in "[]()")


def check_annotation(annotated: str, original: str, entities: Iterable[str]) -> str:
    """The annotation, cleaned, if it marks up exactly the original message with known entities."""
    annotated = clean_text(annotated)
    known = set(entities)
    for match in ANNOTATION.finditer(annotated):
        if match["entity"] not in known:
            raise AnnotationError("unknown_entity", match["entity"])
        if match["text"] != match["text"].strip():
            raise AnnotationError("entity_spaces", match["text"])
    if plain_text(annotated) != clean_text(original):
        raise AnnotationError("text_changed")
    return annotated


def _escape_plain(text: str) -> str:
    # Brackets outside an annotation (the mask 「[卡号已隐藏，尾号1111]」, say) would
    # read as entity markup to Rasa; full-width ones read as what they are.
    return text.replace("[", "［").replace("]", "］")


def to_training_line(annotated: str) -> str:
    pieces, position = [], 0
    for match in ANNOTATION.finditer(annotated):
        pieces += [_escape_plain(annotated[position : match.start()]), match.group()]
        position = match.end()
    return "".join([*pieces, _escape_plain(annotated[position:])])


def training_texts(data_dir: Path) -> set[str]:
    """The plain text of every NLU example already in ``data/``."""
    texts: set[str] = set()
    for path in sorted(data_dir.glob("*.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in content.get("nlu") or []:
            for line in str(block.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    texts.add(clean_text(plain_text(line.strip()[2:])))
    return texts


@dataclass(frozen=True)
class Export:
    yaml: str
    exported: int
    skipped: tuple[FlaggedExample, ...]


def export_nlu(examples: Iterable[FlaggedExample], known_texts: set[str], exported_at: datetime) -> Export:
    """Rasa NLU YAML for the flagged examples, newest annotation of each text winning.

    Texts already in the training data are left out: the same text under two
    intents is a conflict to settle in ``data/`` by hand, not to merge blindly.
    """
    by_text: dict[str, FlaggedExample] = {}
    skipped = []
    for example in sorted(examples, key=lambda item: item.flagged_at):
        text = clean_text(example.text)
        if text in known_texts:
            skipped.append(example)
        elif text:
            by_text[text] = example
    by_intent: dict[str, list[str]] = {}
    for example in by_text.values():
        by_intent.setdefault(example.intent, []).append(to_training_line(clean_text(example.annotated)))
    lines = [
        f"# Exported by the staff console on {exported_at:%Y-%m-%d %H:%M}: {len(by_text)} example(s).",
        "# Review, then merge into data/nlu.yml and retrain.",
        f'version: "{NLU_FORMAT_VERSION}"',
        "nlu:" if by_intent else "nlu: []",
    ]
    for intent in sorted(by_intent):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {line}" for line in sorted(by_intent[intent])]
    return Export(yaml="\n".join(lines) + "\n", exported=len(by_text), skipped=tuple(skipped))
