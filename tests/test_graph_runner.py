"""The sequential graph runner (bot/rasa/patches/graph_runner.py) against Rasa's dask runner.

Both runners load the trained model. Every prediction is made by both from
the same tracker: at each action of the training stories and rules and of the test stories, and along random
conversations (random intents, entities and rejected actions) that leave the
rules behind. The final predictions must be equal (``PolicyPrediction.__eq__``
plus the diagnostic data), TED must have been left out where a rule was
certain, and both kinds of prediction must have been exercised.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from model_outputs import same_outputs
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import ExecutionContext
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.storage import ModelMetadata
from rasa.shared.core.constants import ACTION_LISTEN_NAME, RULE_SNIPPET_ACTION_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.importers.importer import TrainingDataImporter

from bot.rasa.patches.graph_runner import SequentialGraphRunner

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "wushua.tar.gz"
RANDOM_CONVERSATIONS = 40


@dataclass
class Runners:
    metadata: ModelMetadata
    stock: DaskGraphRunner
    sequential: SequentialGraphRunner
    domain: Domain
    ted_calls: dict[str, int] = field(default_factory=lambda: {"stock": 0, "sequential": 0})
    winners: dict[str, int] = field(default_factory=dict)
    outranked: int = 0  # predictions a certain, unrejected rule decided: TED need not run
    _running: str = "stock"

    def predict_both(self, tracker: DialogueStateTracker) -> Any:
        target = self.metadata.core_target
        self._running = "stock"
        stock = self.stock.run(inputs={"__tracker__": tracker}, targets=[target])[target]
        self._running = "sequential"
        ours = self.sequential.run(inputs={"__tracker__": tracker}, targets=[target])[target]
        assert ours == stock, f"different predictions after {[e.as_story_string() for e in tracker.events]}"
        assert same_outputs(stock.diagnostic_data, ours.diagnostic_data)
        key = f"{stock.policy_name} {'certain' if stock.max_confidence >= 1.0 else 'uncertain'}"
        self.winners[key] = self.winners.get(key, 0) + 1
        if key == "RulePolicy certain" and not _after_a_rejection(tracker):
            self.outranked += 1
        return stock


def _after_a_rejection(tracker: DialogueStateTracker) -> bool:
    actions = [e for e in tracker.events if isinstance(e, (ActionExecuted, ActionExecutionRejected))]
    return bool(actions) and isinstance(actions[-1], ActionExecutionRejected)


@pytest.fixture(scope="module")
def runners(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runners]:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make test`, which trains it first")
    storage, metadata = LocalModelStorage.from_model_archive(tmp_path_factory.mktemp("model"), MODEL)

    def runner(cls: type[DaskGraphRunner]) -> Any:
        context = ExecutionContext(graph_schema=metadata.predict_schema, model_id=metadata.model_id)
        return cls.create(
            graph_schema=metadata.predict_schema, model_storage=storage, execution_context=context
        )

    ted_calls = {"stock": 0, "sequential": 0}
    original = TEDPolicy.predict_action_probabilities

    def counted(self: TEDPolicy, *args: Any, **kwargs: Any) -> Any:
        ted_calls[both._running] += 1
        return original(self, *args, **kwargs)

    # Before the runners exist: each graph node takes its component's method when it is built.
    TEDPolicy.predict_action_probabilities = counted  # type: ignore[method-assign]
    try:
        both = Runners(metadata, runner(DaskGraphRunner), runner(SequentialGraphRunner), metadata.domain)
        both.ted_calls = ted_calls
        yield both
    finally:
        TEDPolicy.predict_action_probabilities = original  # type: ignore[method-assign]


def _story_and_rule_events(domain: Domain) -> list[list[Any]]:
    """The events of each training story and rule and each test story; rules without their `...` markers."""
    importer = TrainingDataImporter.load_from_config(
        str(ROOT / "config.yml"),
        str(ROOT / "domain.yml"),
        [str(ROOT / "data"), str(ROOT / "tests" / "stories")],
    )
    generator = TrainingDataGenerator(importer.get_stories(), domain, augmentation_factor=0)
    return [
        [
            event
            for event in tracker.events
            if not (isinstance(event, ActionExecuted) and event.action_name == RULE_SNIPPET_ACTION_NAME)
        ]
        for tracker in generator.generate()
    ]


def test_predictions_along_the_stories_and_rules_are_the_same(runners: Runners) -> None:
    stories = _story_and_rule_events(runners.domain)
    slots = runners.domain.slots
    assert len(stories) >= 40
    predictions = 0
    for number, events in enumerate(stories):
        for index, event in enumerate(events):
            if isinstance(event, ActionExecuted) and index > 0:
                prefix = events[:index]
                runners.predict_both(DialogueStateTracker.from_events(f"story-{number}", prefix, slots))
                predictions += 1
    assert predictions >= 100


def test_predictions_along_random_conversations_are_the_same(runners: Runners) -> None:
    rng = random.Random(20261126)
    domain = runners.domain
    intents = sorted(domain.intents)
    entities = sorted(domain.entities)
    for number in range(RANDOM_CONVERSATIONS):
        tracker = DialogueStateTracker.from_events(
            f"random-{number}", [ActionExecuted(ACTION_LISTEN_NAME)], domain.slots
        )
        for _ in range(rng.randint(2, 6)):
            intent = rng.choice(intents)
            found = [{"entity": name, "value": "x"} for name in rng.sample(entities, rng.randint(0, 2))]
            tracker.update(UserUttered("…", intent={"name": intent, "confidence": 1.0}, entities=found))
            for _ in range(4):  # a few actions, then the user speaks again
                prediction = runners.predict_both(tracker)
                action = domain.action_names_or_texts[int(np.argmax(prediction.probabilities))]
                if action == ACTION_LISTEN_NAME:
                    break
                if rng.random() < 0.1:
                    tracker.update(ActionExecutionRejected(action))
                else:
                    tracker.update(ActionExecuted(action, prediction.policy_name, prediction.max_confidence))
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))


def test_both_kinds_of_prediction_were_compared_and_ted_was_left_out_only_when_outranked(
    runners: Runners,
) -> None:
    """Runs after the two tests above (same module, file order) and checks what they covered."""
    certain_rules = runners.winners.get("RulePolicy certain", 0)
    others = sum(count for key, count in runners.winners.items() if key != "RulePolicy certain")
    assert certain_rules >= 50, runners.winners
    assert others >= 20, runners.winners  # TED, memoization or the core fallback decided these
    compared = sum(runners.winners.values())
    assert runners.ted_calls["stock"] == compared  # dask runs every policy for every prediction
    assert runners.ted_calls["sequential"] == compared - runners.outranked


def test_a_target_nothing_provides_and_an_input_named_like_a_node_are_refused(runners: Runners) -> None:
    with pytest.raises(GraphRunError):
        runners.sequential.run(inputs={}, targets=["no_such_node"])
    with pytest.raises(GraphRunError):
        runners.sequential.run(inputs={"domain_provider": 1}, targets=["domain_provider"])


def test_the_nlu_graph_parses_the_same(runners: Runners) -> None:
    from rasa.core.channels.channel import UserMessage

    target = runners.metadata.nlu_target
    for text in ["你好", "我在华联超市刷卡被重复扣款了，多扣了3000元", "<b>'; drop table cases;--</b>", ""]:
        stock = runners.stock.run(inputs={"__message__": [UserMessage(text)]}, targets=[target])[target]
        ours = runners.sequential.run(inputs={"__message__": [UserMessage(text)]}, targets=[target])[target]
        parsed = ("text", "intent", "intent_ranking", "entities")
        assert [[m.get(k) for k in parsed] for m in ours] == [[m.get(k) for k in parsed] for m in stock]
        assert ours[0].get("intent")  # something was parsed
