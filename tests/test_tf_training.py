"""Rasa's models trace their training step once (bot/tf_training.py).

A small bot with DIET (intents and CRF entities) and TED is trained in
process, then loaded, which makes Rasa fit one example per model. Every fit,
training or loading, must trace Keras' training step exactly once; the stock
``fit`` traces it twice, because its first call creates the variables.
Loading is the harder case for the fix: one example leaves TED's branches
for missing features untaken, and a variable created in the traced step would
make Adam refuse it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.model_training import train
from rasa.utils.tensorflow.models import RasaModel

from bot import tf_training

CONFIG = """
recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: DIETClassifier
    epochs: 2
    random_seed: 1
policies:
  - name: TEDPolicy
    epochs: 2
    max_history: 3
    random_seed: 1
"""

DOMAIN = """
version: "3.1"
intents: [greet, report_charge]
entities: [amount]
slots:
  amount:
    type: text
    mappings:
      - type: from_entity
        entity: amount
responses:
  utter_greet: [{text: "hello"}]
  utter_ask_merchant: [{text: "which shop?"}]
"""

NLU = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi there
      - good morning
      - hey
  - intent: report_charge
    examples: |
      - I was charged [30](amount) twice
      - the shop took [120](amount) from my card
      - charged [45](amount) for nothing
      - the card was charged twice
"""

STORIES = """
version: "3.1"
stories:
  - story: greet then report
    steps:
      - intent: greet
      - action: utter_greet
      - intent: report_charge
        entities: [{amount: "30"}]
      - slot_was_set: [{amount: "30"}]
      - action: utter_ask_merchant
  - story: report straight away
    steps:
      - user: "the card was charged twice"
        intent: report_charge
      - action: utter_ask_merchant
"""


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[RasaModel]]:
    """Every Rasa model fitted while the small bot trains (``train``) and loads (``load``)."""
    project = tmp_path_factory.mktemp("small_bot")
    files = {"config.yml": CONFIG, "domain.yml": DOMAIN, "nlu.yml": NLU, "stories.yml": STORIES}
    for name, text in files.items():
        (project / name).write_text(text)

    fitted: dict[str, list[RasaModel]] = {"train": [], "load": []}
    phase = "train"

    def recording_fit(self: RasaModel, *args: Any, **kwargs: Any) -> Any:
        fitted[phase].append(self)
        return tf_training.fit(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as environment:
        environment.setattr(RasaModel, "fit", recording_fit)
        # A cache of its own, or a second run would take the trained models from the project's cache.
        environment.setenv("RASA_CACHE_DIRECTORY", str(project / "cache"))
        result = train(
            domain=str(project / "domain.yml"),
            config=str(project / "config.yml"),
            training_files=[str(project / "nlu.yml"), str(project / "stories.yml")],
            output=str(project / "models"),
        )
        assert result.code == 0
        phase = "load"
        agent = Agent.load(result.model)
        parsed = asyncio.run(agent.parse_message("I was charged 30 twice"))
    assert parsed["intent"]["name"] in {"greet", "report_charge"}
    return fitted


@pytest.mark.parametrize("phase", ["train", "load"])
def test_each_fit_traces_the_training_step_once(fitted: dict[str, list[RasaModel]], phase: str) -> None:
    models = fitted[phase]
    assert sorted(type(model).__name__ for model in models) == ["DIET", "TED"]
    for model in models:
        assert model.train_function.experimental_get_tracing_count() == 1, type(model).__name__
        assert int(model.optimizer.iterations.numpy()) > 0  # the traced step ran


def test_rasa_components_install_the_fit() -> None:
    import bot.nlu.rasa_components  # noqa: F401  (Rasa imports it for our pipeline)

    assert RasaModel.fit is tf_training.fit
