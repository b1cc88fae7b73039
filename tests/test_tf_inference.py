"""DIET and TED predictions through the traced graph (bot/rasa/patches/tf_inference.py) beside Rasa's own.

The trained model answers a few turns with Rasa's prediction path while the
inputs each model got are recorded; then both paths predict from those
inputs, and every output array must be identical.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasa.core.processor
from model_outputs import same_outputs
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.utils.tensorflow.models import RasaModel

from bot.rasa.patches import tf_inference

MODEL = Path(__file__).resolve().parent.parent / "models" / "wushua.tar.gz"
rasas_predict = tf_inference._rasa_predict  # saved before anything replaced it
TURNS = ["你好", "我在华联超市刷卡被重复扣款了，多扣了3000元", "工商银行", "昨天", "退款一般多久能到账？"]


@pytest.fixture(scope="module")
def recorded_inputs() -> Iterator[dict[str, list[tuple[RasaModel, tuple[np.ndarray, ...]]]]]:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make test`, which trains it first")
    from rasa.core.agent import Agent

    recorded: dict[str, list[tuple[RasaModel, tuple[np.ndarray, ...]]]] = {}
    installed = RasaModel._rasa_predict

    def recording(model: RasaModel, batch_in: tuple[np.ndarray, ...]) -> dict:
        recorded.setdefault(type(model).__name__, []).append((model, batch_in))
        return rasas_predict(model, batch_in)

    installed_runner = rasa.core.processor.DaskGraphRunner
    # Rasa's own runner runs TED for every prediction; ours (bot/rasa/patches/graph_runner.py), when
    # another test installed the patches, leaves TED out where a rule is certain.
    rasa.core.processor.DaskGraphRunner = DaskGraphRunner  # type: ignore[misc]
    RasaModel._rasa_predict = recording
    try:
        agent = Agent.load(str(MODEL))

        async def talk() -> None:
            for text in TURNS:
                await agent.handle_text(text, sender_id="tf-inference-test")

        asyncio.run(talk())
    finally:
        RasaModel._rasa_predict = installed
        rasa.core.processor.DaskGraphRunner = installed_runner  # type: ignore[misc]
    yield recorded


@pytest.mark.parametrize("model_name", ["DIET", "TED"])
def test_the_traced_graph_gives_rasas_outputs_exactly(recorded_inputs: dict, model_name: str) -> None:
    calls = recorded_inputs[model_name]
    assert len(calls) >= len(TURNS)  # DIET once a turn, TED once per predicted action
    for model, batch_in in calls:
        expected = rasas_predict(model, batch_in)
        got = tf_inference.predict(model, batch_in)
        assert tf_inference._traced_graph(model) is not None  # the fast path ran, not Rasa's
        assert same_outputs(expected, got)


def test_inputs_that_do_not_fit_the_graph_are_refused(recorded_inputs: dict) -> None:
    model, batch_in = recorded_inputs["DIET"][0]
    tf_inference.predict(model, batch_in)
    widened = tuple(
        np.concatenate([array, array], axis=-1) if array.ndim > 1 else array for array in batch_in
    )
    with pytest.raises(ValueError, match="does not match"):
        tf_inference.predict(model, widened)
    with pytest.raises(ValueError, match="inputs"):
        tf_inference.predict(model, batch_in[:-1])
