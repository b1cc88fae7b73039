"""How well the assistant understands: held-out NLU scores, test stories, cross-validation.

The held-out scores come from ``scripts/evaluate_nlu.py`` itself, so the
benchmark and `make evaluate` can never disagree; the confusion matrix is
rebuilt from its list of intent errors. Story accuracy and cross-validation
run Rasa's own ``rasa test`` commands.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

from bench.servers import ROOT, run_rasa
from scripts.evaluate_nlu import REFERENCE_DAY, evaluate

HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
TEST_STORIES = ROOT / "tests" / "stories"
NLU_DATA = ROOT / "data" / "nlu.yml"


def heldout(model: Path, data: Path = HELDOUT) -> dict:
    """`scripts/evaluate_nlu.py`'s report, plus the intent confusion matrix."""
    from rasa.shared.nlu.training_data.loading import load_data

    os.environ["WUSHUA_TODAY"] = REFERENCE_DAY  # the held-out dates are written against this day
    report = evaluate(str(model), str(data))
    gold = Counter(example.get("intent") for example in load_data(str(data)).training_examples)
    gold.pop(None, None)
    report["confusion"] = confusion(gold, report["intent_errors"])
    return report


def confusion(gold: Counter, errors: list[dict]) -> dict:
    """Rows are the true intents, columns the predicted ones (``nlu_fallback`` included)."""
    labels = sorted(set(gold) | {error["got"] for error in errors})
    index = {label: position for position, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for label, count in gold.items():
        matrix[index[label]][index[label]] = count
    for error in errors:
        matrix[index[error["expected"]]][index[error["expected"]]] -= 1
        matrix[index[error["expected"]]][index[error["got"]]] += 1
    return {"labels": labels, "matrix": matrix}


def stories(model: Path, out: Path) -> dict:
    """`rasa test core` on tests/stories: whole conversations right, and actions right."""
    out.mkdir(parents=True, exist_ok=True)
    command = ["test", "core", "--model", str(model), "--stories", str(TEST_STORIES), "--out", str(out)]
    run_rasa(command, ROOT, out / "rasa.log", out / "cache", WUSHUA_TODAY=REFERENCE_DAY)
    report = json.loads((out / "story_report.json").read_text())
    conversations = report["conversation_accuracy"]
    return {
        "conversations_correct": conversations["correct"],
        "conversations": conversations["total"],
        "conversation_accuracy": conversations["accuracy"],
        "action_accuracy": report["accuracy"],
        "actions": report["macro avg"]["support"],
    }


def cross_validation(out: Path, folds: int = 5, config: Path = ROOT / "config.yml") -> dict:
    """`rasa test nlu --cross-validation` on the training data: intents, and entities per extractor.

    The folds are the same in every run (``bench/seeded_rasa.py``), so runs compare.
    Entities are scored by Rasa here (type and span, not normalised value), and
    only DIET's `merchant` is annotated in the training data, so the rule
    extractor's figures say little; they are listed for completeness.
    """
    out.mkdir(parents=True, exist_ok=True)
    command = ["test", "nlu", "--nlu", str(NLU_DATA), "--config", str(config), "--cross-validation"]
    command += ["--folds", str(folds), "--out", str(out), "--no-plot"]
    seeded_rasa = (sys.executable, "-m", "bench.seeded_rasa")
    run_rasa(command, ROOT, out / "rasa.log", out / "cache", rasa=seeded_rasa, WUSHUA_TODAY=REFERENCE_DAY)
    intents = json.loads((out / "intent_report.json").read_text())
    result: dict = {
        "folds": folds,
        "intent_accuracy": intents["accuracy"],
        "intent_macro_f1": intents["macro avg"]["f1-score"],
        "intent_weighted_f1": intents["weighted avg"]["f1-score"],
        "entities": {},
    }
    for path in sorted(out.glob("*_report.json")):
        if path.name in ("intent_report.json", "response_selection_report.json"):
            continue
        scores = json.loads(path.read_text())
        result["entities"][path.name.removesuffix("_report.json")] = {
            name: {key: row[key] for key in ("precision", "recall", "f1-score", "support")}
            for name, row in scores.items()
            if isinstance(row, dict) and name not in ("macro avg", "weighted avg")
        }
    return result
