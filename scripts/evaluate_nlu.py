"""Score the trained model on the held-out NLU set and fail below the quality bar.

Stricter than ``rasa test nlu`` for entities: an entity counts only when its
type and its normalised value (3000, 2026-11-20, 中国工商银行) are right,
whichever extractor found it. Relative dates in the held-out set are written
against 2026-11-25, so that day is pinned for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

REFERENCE_DAY = "2026-11-25"
# Just under the scores the held-out set is to keep (intent accuracy 0.964, macro-F1 0.974,
# entity F1 0.964): a retrain that moves one or two of its 361 examples is no regression.
BAR = {"intent_accuracy": 0.96, "intent_macro_f1": 0.97, "entity_f1": 0.96}
# tests/nlu/heldout_new.yml holds the intents added later, without entity annotations.
BAR_INTENTS_ONLY = {"intent_accuracy": 0.90}


def _comparable(entity: str, value: object) -> str:
    if entity == "amount":
        try:
            return f"{float(value):g}"  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return str(value)
    return str(value).strip()


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


async def _parse_all(model: str, texts: list[str]) -> list[dict]:
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)

    agent = Agent.load(model)
    return [await agent.parse_message(text) for text in texts]


def evaluate(model: str, data: str) -> dict:
    from rasa.shared.nlu.training_data.loading import load_data
    from sklearn.metrics import accuracy_score, f1_score

    examples = [example for example in load_data(data).training_examples if example.get("intent")]
    parses = asyncio.run(_parse_all(model, [example.get("text") for example in examples]))

    gold_intents = [example.get("intent") for example in examples]
    predicted_intents = [parse["intent"]["name"] for parse in parses]
    labels = sorted(set(gold_intents))
    per_intent = f1_score(gold_intents, predicted_intents, labels=labels, average=None, zero_division=0)

    counts: dict[str, Counter] = defaultdict(Counter)
    entity_errors = []
    for example, parse in zip(examples, parses, strict=True):
        gold = Counter(
            (e["entity"], _comparable(e["entity"], e.get("value", e.get("text"))))
            for e in example.get("entities") or []
        )
        predicted = Counter(
            (e["entity"], _comparable(e["entity"], e["value"])) for e in parse.get("entities", [])
        )
        for entity, _ in gold | predicted:
            counts[entity]  # every type appears in the report
        for key in gold | predicted:
            hit = min(gold[key], predicted[key])
            counts[key[0]]["tp"] += hit
            counts[key[0]]["fn"] += gold[key] - hit
            counts[key[0]]["fp"] += predicted[key] - hit
        if gold != predicted:
            entity_errors.append(
                {
                    "text": example.get("text"),
                    "expected": sorted(gold.elements()),
                    "got": sorted(predicted.elements()),
                }
            )

    def scores(tp: int, fp: int, fn: int) -> dict[str, float]:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        return {"precision": precision, "recall": recall, "f1": _f1(precision, recall), "support": tp + fn}

    total = Counter()
    for counter in counts.values():
        total.update(counter)
    return {
        "examples": len(examples),
        "intent_accuracy": accuracy_score(gold_intents, predicted_intents),
        "intent_macro_f1": f1_score(
            gold_intents, predicted_intents, labels=labels, average="macro", zero_division=0
        ),
        "per_intent_f1": dict(zip(labels, (round(float(score), 4) for score in per_intent), strict=True)),
        "entity_f1": scores(total["tp"], total["fp"], total["fn"])["f1"],
        "entities": {entity: scores(c["tp"], c["fp"], c["fn"]) for entity, c in sorted(counts.items())},
        "intent_errors": [
            {"text": example.get("text"), "expected": gold, "got": got}
            for example, gold, got in zip(examples, gold_intents, predicted_intents, strict=True)
            if gold != got
        ],
        "entity_errors": entity_errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--report", type=Path)
    parser.add_argument(
        "--intents-only", action="store_true", help="score intents only, against BAR_INTENTS_ONLY"
    )
    args = parser.parse_args()
    os.environ["WUSHUA_TODAY"] = REFERENCE_DAY

    report = evaluate(args.model, args.data)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")

    print(f"held-out examples: {report['examples']}")
    for error in report["intent_errors"]:
        print(f"  intent  {error['expected']:>26} -> {error['got']:<26} {error['text']}")
    for error in report["entity_errors"]:
        print(f"  entity  {error['text']}")
        print(f"          expected {error['expected']}")
        print(f"          got      {error['got']}")
    print(f"{'entity':<12}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for entity, row in report["entities"].items():
        print(
            f"{entity:<12}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>8.3f}{row['support']:>9}"
        )
    failed = []
    for metric, bar in (BAR_INTENTS_ONLY if args.intents_only else BAR).items():
        mark = "ok" if report[metric] >= bar else "BELOW BAR"
        print(f"{metric:<18} {report[metric]:.3f}  (bar {bar})  {mark}")
        if report[metric] < bar:
            failed.append(metric)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
