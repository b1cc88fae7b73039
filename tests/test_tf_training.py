"""Rasa's models trace their full training step once (bot/rasa/patches/tf_training.py).

A small bot with DIET (intents and CRF entities) and TED is trained in
process twice, with Rasa's own ``train_step`` and with ours, and the second
model is then loaded, which makes Rasa fit one example per model. Ours must
trace the full step once per fit where Rasa's traces it twice, run every
batch (Adam's step count), and train exactly the same weights.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.core.agent import Agent
from rasa.model_training import train
from rasa.utils.tensorflow.models import RasaModel

from bot.rasa.patches import tf_training

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


@dataclass
class Fits:
    """What one phase (a training or a load) did to each Rasa model it fitted."""

    models: list[RasaModel] = field(default_factory=list)
    full_step_traces: Counter[int] = field(default_factory=Counter)  # by id(model)
    weights: dict[str, list[np.ndarray]] = field(default_factory=dict)  # by model class, after fit
    steps: dict[str, int] = field(default_factory=dict)  # Adam's, by model class, after fit


def run_phase(project: Path, phase: str, fits: Fits) -> None:
    """Train the small bot with Rasa's train step (``rasa``) or ours (``ours``), or load ours (``load``)."""
    rasa_fit, rasa_train_step = RasaModel.fit, tf_training._rasa_train_step

    def full_step(self: RasaModel, batch_in: Any) -> Any:
        fits.full_step_traces[id(self)] += 1  # runs only while Keras traces the step
        return rasa_train_step(self, batch_in)

    def recording_fit(self: RasaModel, *args: Any, **kwargs: Any) -> Any:
        fits.models.append(self)
        history = rasa_fit(self, *args, **kwargs)
        name = type(self).__name__
        fits.weights[name] = [v.numpy() for v in self.weights + self.optimizer.variables]
        # Before a load reads the weights, which brings the trained step count back.
        fits.steps[name] = int(self.optimizer.iterations.numpy())
        return history

    with pytest.MonkeyPatch.context() as environment:
        environment.setattr(RasaModel, "fit", recording_fit)
        if phase == "rasa":
            environment.setattr(RasaModel, "train_step", full_step)
        else:
            environment.setattr(tf_training, "_rasa_train_step", full_step)
            environment.setattr(RasaModel, "train_step", tf_training.train_step)
        # A cache of its own, or the second training would take the first one's models.
        environment.setenv("RASA_CACHE_DIRECTORY", str(project / f"cache-{phase}"))
        if phase == "load":
            agent = Agent.load(str(project / "models" / "ours.tar.gz"))
            parsed = asyncio.run(agent.parse_message("I was charged 30 twice"))
            assert parsed["intent"]["name"] in {"greet", "report_charge"}
            return
        result = train(
            domain=str(project / "domain.yml"),
            config=str(project / "config.yml"),
            training_files=[str(project / "nlu.yml"), str(project / "stories.yml")],
            output=str(project / "models"),
            fixed_model_name=phase,
        )
        assert result.code == 0


@pytest.fixture(scope="module")
def phases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fits]:
    project = tmp_path_factory.mktemp("small_bot")
    files = {"config.yml": CONFIG, "domain.yml": DOMAIN, "nlu.yml": NLU, "stories.yml": STORIES}
    for name, text in files.items():
        (project / name).write_text(text)
    phases = {"rasa": Fits(), "ours": Fits(), "load": Fits()}
    for phase, fits in phases.items():
        run_phase(project, phase, fits)
    return phases


def test_rasa_traces_the_full_step_twice(phases: dict[str, Fits]) -> None:
    """Why the fix exists; if a TensorFlow upgrade stops this, the fix can go."""
    fits = phases["rasa"]
    assert sorted(type(model).__name__ for model in fits.models) == ["DIET", "TED"]
    assert [fits.full_step_traces[id(model)] for model in fits.models] == [2, 2]


@pytest.mark.parametrize("phase", ["ours", "load"])
def test_ours_traces_the_full_step_once_and_runs_every_batch(phases: dict[str, Fits], phase: str) -> None:
    fits = phases[phase]
    assert sorted(type(model).__name__ for model in fits.models) == ["DIET", "TED"]
    for model in fits.models:
        name = type(model).__name__
        assert fits.full_step_traces[id(model)] == 1, name
        assert model.train_function.experimental_get_tracing_count() == 2, name  # the cut-short one too
        if phase == "load":
            assert fits.steps[name] == 1, name  # Rasa fits one example before it reads the weights
        else:
            assert fits.steps[name] == phases["rasa"].steps[name] > 1, name


def test_ours_trains_the_same_weights(phases: dict[str, Fits]) -> None:
    rasa, ours = phases["rasa"].weights, phases["ours"].weights
    assert sorted(rasa) == sorted(ours) == ["DIET", "TED"]
    for name in rasa:
        assert len(rasa[name]) == len(ours[name]) > 0, name
        for rasa_value, our_value in zip(rasa[name], ours[name], strict=True):
            np.testing.assert_array_equal(rasa_value, our_value, err_msg=name)
