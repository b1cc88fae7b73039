"""Read a response's text from domain.yml, for code that runs outside Rasa's NLG (channels)."""

from __future__ import annotations

from functools import cache

import yaml

from bot.domain.knowledge import PROJECT_ROOT


@cache
def response_text(name: str) -> str:
    with open(PROJECT_ROOT / "domain.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["responses"][name][0]["text"]
