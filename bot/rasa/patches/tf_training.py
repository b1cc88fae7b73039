"""Rasa's models trace their full training step once instead of twice.

Keras runs ``fit`` through a ``tf.function``. When the first call of a
``tf.function`` creates variables, TensorFlow keeps that trace only to
initialise them and traces the function again for every real call. In Rasa
3.6 DIET's and TED's layers, the CRF's variables and Adam's slots are all
created in that first call, so every ``rasa train`` and every model load
(Rasa fits one example to build the weights before it reads them) traced the
whole training step, forward pass, two gradients and Adam, twice: for DIET
20 to 30 s of CPU each time.

Here the variable-creating trace stops after the forward pass: by then the
layers have created their variables, and Adam, whose slots start at zero,
is built over them as its ``apply_gradients`` would build it. The trace that
runs is Rasa's own ``train_step``, unchanged. The forward pass is traced
exactly as before, so the variables are created by the same operations at
the same places in the graph and draw the same initial values: the trained
model is the one Rasa trains without this (``tests/test_tf_training.py``
compares the weights). The cut-short trace never runs a batch: TensorFlow
lifts the variables' initialisers out of it and calls the second trace
(``_initialize_uninitialized_variables`` in ``polymorphic_function.py``);
the test counts Adam's steps to prove it.

Installed by ``bot/rasa/nlu/rasa_components.py``, which Rasa imports wherever our
pipeline is trained, tested or loaded.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from keras.optimizers.optimizer import Optimizer
from rasa.utils.tensorflow.models import RasaModel

_rasa_train_step = RasaModel.train_step


def _creates_variables(model: RasaModel) -> bool:
    """True in the trace that creates the variables: traced, and Adam not yet built."""
    optimizer = model.optimizer
    # Only Keras' current optimizers have ``build``; ``_built`` appears once it has run.
    return (
        isinstance(optimizer, Optimizer)
        and not getattr(optimizer, "_built", False)
        and not tf.executing_eagerly()
    )


def train_step(self: RasaModel, batch_in: Any) -> dict[str, Any]:
    """Rasa's ``train_step``; in the variable-creating trace, only as far as the variables."""
    if not _creates_variables(self):
        return _rasa_train_step(self, batch_in)
    self._training = True  # as in Rasa's train_step: dropout and the training-only layers
    try:
        self.batch_loss(batch_in)
    finally:
        self._training = None
    self.optimizer.build(self.trainable_variables)
    return self._get_metric_results()
