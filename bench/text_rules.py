"""The text rules on the worst messages a channel accepts: masking and entity finding.

Both run on every message before anything else (masking at the channel,
entities in NLU), so an input that makes a regular expression backtrack
would stall a whole server. Each input is the longest a channel takes
(``MAX_MESSAGE_CHARS``) and built to make a careless pattern try every
split; the run reports the slowest call, in milliseconds.
"""

from __future__ import annotations

import time
from datetime import date

from bot.domain.masking import mask_secrets
from bot.domain.normalise import find_entities
from bot.rasa.channels.guard import MAX_MESSAGE_CHARS

REPEATED = ("1", "1 ", "一", "验证码", "ka卡", "¥", "尾号", "周", "昨天在工行扣了3000元，尾号1234。")
TODAY = date(2026, 11, 25)


def worst_inputs() -> list[str]:
    return [(piece * MAX_MESSAGE_CHARS)[:MAX_MESSAGE_CHARS] for piece in REPEATED]


def slowest_ms(repeats: int = 3) -> dict[str, float]:
    """The slowest single call of each rule over the worst inputs (best of ``repeats`` per input)."""
    rules = {"masking": mask_secrets, "entities": lambda text: find_entities(text, TODAY)}
    found = {}
    for name, rule in rules.items():
        per_input = []
        for text in worst_inputs():
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                rule(text)
                times.append(time.perf_counter() - started)
            per_input.append(min(times))
        found[name] = round(1000 * max(per_input), 1)
    return found
