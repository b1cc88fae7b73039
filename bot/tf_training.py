"""Rasa's models trace their training step once instead of twice.

Keras runs ``fit`` through a ``tf.function``. When the first call of a
``tf.function`` creates variables, TensorFlow traces it a second time for
every later call, and for DIET one trace of the training step (forward pass,
two gradients, Adam) costs 20 to 30 s of CPU. In Rasa 3.6 the layers, the
Adam slots and the CRF's variables are all created inside that first call,
so every ``rasa train`` traced DIET's and TED's training step twice, and
every model load (Rasa fits one example to build the weights before it reads
them) did the same.

Before Keras' ``fit``, this creates those variables outside the traced step:
an eager forward pass over the first batch builds the layers it runs
through, which for DIET is every layer its training step uses. TED's ``batch_loss`` builds some
layers inside a ``tf.cond`` on which features a batch has (a one-example
batch, as at load time, lacks some), so for TED a forward-only trace follows
and builds the branches the batch did not take. Adam is then built over all
trainable variables, exactly as its ``apply_gradients`` would build it. The
step itself, the data and the number of steps are Rasa's. What differs is
where the variables are created, and so the random draws of their initial
values: a model trained with this is not bit-identical to one trained
without it (bench/history.md has the accuracy measured after the change).
A variable missed here would not go unnoticed: Adam refuses to update a
variable it was not built with, and training stops with a ``KeyError``.

Installed by ``bot/nlu/rasa_components.py``, which Rasa imports wherever our
pipeline is trained, tested or loaded.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from keras.optimizers.optimizer import Optimizer
from rasa.core.policies.ted_policy import TED
from rasa.utils.tensorflow.models import RasaModel

_keras_fit = tf.keras.Model.fit


def build_variables(model: RasaModel, batch: tuple[Any, ...]) -> None:
    """Create every variable ``model``'s training step would create on ``batch``, outside a trace."""
    model._training = True  # as in RasaModel.train_step: dropout and the training-only layers
    try:
        model.batch_loss(batch)  # eagerly: the layers this batch runs through, without a trace
        if isinstance(model, TED):
            # Traced, forward only: the layers inside branches this batch did not take.
            tf.function(model.batch_loss).get_concrete_function(batch)
    finally:
        model._training = None
    model.optimizer.build(model.trainable_variables)


def fit(self: RasaModel, x: Any = None, *args: Any, **kwargs: Any) -> Any:
    """Keras' ``fit``, with the variables built first where Keras would trace a step that creates them."""
    # Only Keras' current optimizers have ``build``; ``_built`` appears once it has run.
    unbuilt = isinstance(self.optimizer, Optimizer) and not getattr(self.optimizer, "_built", False)
    if isinstance(x, tf.keras.utils.Sequence) and len(x) and unbuilt and not self.run_eagerly:
        batch, _targets = x[0]
        build_variables(self, batch)
    return _keras_fit(self, x, *args, **kwargs)


def install() -> None:
    RasaModel.fit = fit
