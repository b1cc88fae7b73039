"""DIET and TED predictions through the traced graph directly, without tf.function's dispatch.

Rasa 3.6 predicts with ``tf.function(predict_step, input_signature=...)``.
Every call of a ``tf.function`` canonicalises its arguments and matches them
against its signatures before it runs the one graph that signature has; for
DIET's 8 and TED's 13 input arrays that costs 2 to 4 ms of CPU per call, more
than the graph itself, and a turn makes one DIET and two or three TED calls.

After Rasa's own first call (which traces the graph, exactly as before), this
calls that traced graph (the ``ConcreteFunction`` of the fixed signature)
with the inputs converted to the signature's dtypes and checked against its
shapes. Same graph, same variables, same outputs: the tests compare them
element for element on the real model.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import tensorflow as tf
from keras.utils import tf_utils
from rasa.shared.constants import DIAGNOSTIC_DATA
from rasa.utils.tensorflow.models import RasaModel

_rasa_predict = RasaModel._rasa_predict
# The traced graph and its input specs, per model; weak so that a retrained model is not kept alive.
_graphs: weakref.WeakKeyDictionary[RasaModel, tuple[Any, list[tf.TensorSpec]]] = weakref.WeakKeyDictionary()


def _traced_graph(model: RasaModel) -> tuple[Any, list[tf.TensorSpec]] | None:
    found = _graphs.get(model)
    if found is None and model._tf_predict_step is not None and not model._run_eagerly:
        found = _graphs[model] = (
            model._tf_predict_step.get_concrete_function(),
            list(model._tf_predict_step.input_signature[0]),
        )
    return found


def predict(model: RasaModel, batch_in: tuple[np.ndarray, ...]) -> dict[str, Any]:
    """``RasaModel._rasa_predict``, calling the traced graph once Rasa has traced it."""
    graph = _traced_graph(model)
    if graph is None:
        return _rasa_predict(model, batch_in)  # traces on the first call; eager mode stays Rasa's
    concrete, specs = graph
    if len(batch_in) != len(specs):
        raise ValueError(f"{type(model).__name__} expects {len(specs)} inputs, got {len(batch_in)}")
    tensors = []
    for array, spec in zip(batch_in, specs, strict=True):
        if not spec.shape.is_compatible_with(np.shape(array)):
            raise ValueError(f"input of shape {np.shape(array)} does not match {spec}")
        tensors.append(tf.convert_to_tensor(array, dtype=spec.dtype))
    model._training = False
    outputs = tf_utils.sync_to_numpy_or_python_type(concrete._call_flat(tensors, concrete.captured_inputs))
    if DIAGNOSTIC_DATA in outputs:
        outputs[DIAGNOSTIC_DATA] = model._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs
