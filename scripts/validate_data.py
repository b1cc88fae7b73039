"""``rasa data validate``, failing on every warning but one kind.

Rasa's validator only sees stories and rules, so it reports each response
that a custom action utters as "not used in any story or rule". Such a
warning is accepted only when the response really is uttered by code in
``actions/`` or ``bot/``; every other warning fails the check.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from bot.domain import knowledge
from bot.infra.receipt_intake import RECEIPT_SENT

ROOT = Path(__file__).resolve().parent.parent
UNUSED = re.compile(r"The utterance '(?P<name>utter_\w+)' is not used in any story or rule\.")
NO_EXAMPLES = re.compile(
    r"The intent '(?P<name>\w+)' is listed in the domain file, but is not found in the NLU"
)
# Intents no training example teaches: bot.rasa.nlu's CommandClassifier sets them
# (the `commands` of conversation.yml).
RULE_INTENTS = frozenset(knowledge.conversation()["commands"])
# Intents a channel sends itself: a picture arrived (bot/infra/receipt_intake.py).
CHANNEL_INTENTS = frozenset({RECEIPT_SENT.removeprefix("/")})
WARNING = re.compile(r"UserWarning: (?P<message>.+)")


def responses_uttered_by_code() -> set[str]:
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("actions", "bot")
        for path in (ROOT / folder).rglob("*.py")
    )
    names = set(re.findall(r"\"(utter_\w+)\"", source))
    # Validation reason codes become utter_invalid_<code> (actions/forms.py).
    validation = (ROOT / "bot" / "domain" / "validation.py").read_text(encoding="utf-8")
    names |= {f"utter_invalid_{code}" for code in re.findall(r'error="(\w+)"', validation)}
    # Form questions are asked by Rasa itself: utter_ask_<form>_<slot>, else utter_ask_<slot>.
    forms = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["forms"]
    names |= {
        f"utter_ask_{prefix}{slot}"
        for form, spec in forms.items()
        for slot in spec["required_slots"]
        for prefix in (f"{form}_", "")
    }
    return names


def intents_without_examples() -> set[str]:
    """Intents reached only through buttons (a ``/intent`` payload in domain.yml or the
    knowledge files) or set by a rule classifier, so they need no training examples."""
    texts = [(ROOT / "domain.yml").read_text(encoding="utf-8")]
    texts += [path.read_text(encoding="utf-8") for path in (ROOT / "data" / "knowledge").glob("*.yml")]
    return set(re.findall(r"payload: ['\"]?/(\w+)", "\n".join(texts))) | RULE_INTENTS | CHANNEL_INTENTS


def main() -> int:
    run = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "data", "validate", "--fail-on-warnings"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    output = run.stdout + run.stderr
    allowed = responses_uttered_by_code()
    example_free = intents_without_examples()
    problems, accepted = [], 0
    for match in WARNING.finditer(output):
        message = match["message"].strip()
        unused, missing = UNUSED.search(message), NO_EXAMPLES.search(message)
        if (unused and unused["name"] in allowed) or (missing and missing["name"] in example_free):
            accepted += 1
            continue
        problems.append(message)
    # --fail-on-warnings exits 1 for accepted warnings too; any other failure is a problem.
    if run.returncode != 0 and not (run.returncode == 1 and accepted and not problems):
        problems.append(f"rasa data validate exited with {run.returncode}")
    for problem in problems:
        print(f"validate: {problem}")
    print(f"rasa data validate: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
