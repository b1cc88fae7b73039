"""Domain knowledge loaded once from ``data/knowledge/*.yml``.

The NLU (jieba dictionary, spaCy patterns), the actions and the checklist all
read banks, steps and time frames from here, so a new alias is one line in
one file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KNOWLEDGE_DIR = Path(os.environ.get("WUSHUA_KNOWLEDGE_DIR", PROJECT_ROOT / "data" / "knowledge"))


@dataclass(frozen=True)
class Bank:
    name: str
    short: str
    hotline: str
    aliases: tuple[str, ...] = field(default_factory=tuple)
    credit_card_hotline: str | None = None

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, self.short, *self.aliases)


def load_yaml(name: str) -> dict[str, Any]:
    with open(KNOWLEDGE_DIR / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@lru_cache(maxsize=1)
def banks() -> tuple[Bank, ...]:
    return tuple(
        Bank(
            name=entry["name"],
            short=entry["short"],
            hotline=str(entry["hotline"]),
            aliases=tuple(str(alias) for alias in entry.get("aliases", [])),
            credit_card_hotline=entry.get("credit_card_hotline"),
        )
        for entry in load_yaml("banks.yml")["banks"]
    )


@lru_cache(maxsize=1)
def unionpay() -> dict[str, str]:
    entry = load_yaml("banks.yml")["unionpay"]
    return {"name": entry["name"], "hotline": str(entry["hotline"])}


@lru_cache(maxsize=1)
def _alias_index() -> dict[str, Bank]:
    index: dict[str, Bank] = {}
    for bank in banks():
        for alias in bank.all_names:
            index[alias.casefold()] = bank
    return index


def bank_aliases() -> list[str]:
    """Every spelling of every bank, longest first so a matcher prefers 工商银行 over 工商."""
    return sorted({alias for bank in banks() for alias in bank.all_names}, key=len, reverse=True)


@lru_cache(maxsize=1)
def ordinary_word_aliases() -> dict[str, tuple[str, ...]]:
    """Aliases that are also ordinary words (工商, 招商, 平安), each with its non-bank phrases."""
    entries = load_yaml("banks.yml").get("ordinary_word_aliases", {})
    return {alias.casefold(): tuple(phrases) for alias, phrases in entries.items()}


def resolve_bank(text: str | None) -> Bank | None:
    """Map any alias (工行, ICBC, 中国工商银行) to its bank, or None if unknown."""
    if not text:
        return None
    cleaned = text.strip().casefold()
    if cleaned in _alias_index():
        return _alias_index()[cleaned]
    for alias in bank_aliases():
        if alias.casefold() in cleaned:
            return _alias_index()[alias.casefold()]
    return None


# YAML folds a long line into spaces, which do not belong between Chinese characters.
_SPACE_NEXT_TO_CJK = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")


def _join_folded_lines(value: Any) -> Any:
    if isinstance(value, str):
        return _SPACE_NEXT_TO_CJK.sub("", value)
    if isinstance(value, list):
        return [_join_folded_lines(item) for item in value]
    if isinstance(value, dict):
        return {key: _join_folded_lines(item) for key, item in value.items()}
    return value


@lru_cache(maxsize=1)
def steps() -> dict[str, Any]:
    return _join_folded_lines(load_yaml("steps.yml"))


@lru_cache(maxsize=1)
def conversation() -> dict[str, Any]:
    """What is said around the case form: answer-first texts and in-form answers."""
    return _join_folded_lines(load_yaml("conversation.yml"))


@lru_cache(maxsize=1)
def receipts() -> dict[str, Any]:
    """How the fields read from a picture are named to the user."""
    return load_yaml("receipts.yml")


@lru_cache(maxsize=1)
def privacy_notice() -> dict[str, Any]:
    """The privacy notice asked before any personal fact is kept, with its version."""
    notice = _join_folded_lines(load_yaml("privacy.yml"))["notice"]
    return {**notice, "version": str(notice["version"])}
