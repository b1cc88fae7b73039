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

ROOT = Path(__file__).resolve().parent.parent
UNUSED = re.compile(r"The utterance '(?P<name>utter_\w+)' is not used in any story or rule\.")
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


def main() -> int:
    run = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "data", "validate", "--fail-on-warnings"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    output = run.stdout + run.stderr
    allowed = responses_uttered_by_code()
    problems = []
    for match in WARNING.finditer(output):
        message = match["message"].strip()
        unused = UNUSED.search(message)
        if unused and unused["name"] in allowed:
            continue
        problems.append(message)
    if run.returncode != 0:
        problems.append(f"rasa data validate exited with {run.returncode}")
    for problem in problems:
        print(f"validate: {problem}")
    print(f"rasa data validate: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
