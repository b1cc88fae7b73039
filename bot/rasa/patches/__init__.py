"""Every place where the project replaces a piece of Rasa, declared in one list.

Each patch replaces one attribute of pinned Rasa 3.6.21 / TensorFlow 2.12 with
our own, found by profiling (``bench/history.md``) or needed to train the same
model faster, and keeps Rasa's behaviour: the tests compare each one's output
with Rasa's own (``tests/test_action_endpoint.py``, ``test_action_responses``,
``test_graph_runner``, ``test_tf_inference``, ``test_tf_training``). One
changes it on purpose: a tracker store error fails the turn
(``tracker_store.py``, ``tests/test_tracker_store.py``).

Nothing is patched on import. ``python -m bot.rasa`` (how the Makefile, the
cluster, the tests and the benchmark start Rasa) calls ``install()``, which
first checks that the installed Rasa and TensorFlow are the versions these
were written against and refuses to start otherwise: a patch of another
version's internals may silently change what the bot does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import rasa
import rasa.core.agent
import rasa.core.processor
import tensorflow as tf
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig
from rasa.utils.tensorflow.models import RasaModel

from bot.rasa.patches import (
    action_endpoint,
    action_responses,
    graph_runner,
    tf_inference,
    tf_training,
    tracker_store,
)

logger = logging.getLogger(__name__)

WRITTEN_FOR = {"rasa": "3.6.21", "tensorflow": "2.12.0"}


@dataclass(frozen=True)
class Patch:
    why: str
    owner: Any  # the class or module whose attribute is replaced
    attribute: str
    replacement: Any
    # Work done at install time rather than on the first user's turn.
    warm_up: Callable[[], object] = field(default=lambda: None)


PATCHES = (
    Patch(
        "action calls reuse a kept-alive connection",
        EndpointConfig,
        "request",
        action_endpoint.request,
    ),
    Patch(
        "the action-response schema validator is built once",
        RemoteAction,
        "_validate_action_result",
        action_responses.validate_action_result,
        warm_up=action_responses.response_validator,
    ),
    Patch(
        "DIET and TED call their traced graph directly",
        RasaModel,
        "_rasa_predict",
        tf_inference.predict,
    ),
    Patch(
        "the prediction graph runs node by node, leaving out what a certain rule outranks",
        rasa.core.processor,
        "DaskGraphRunner",
        graph_runner.SequentialGraphRunner,
    ),
    Patch(
        "the variable-creating trace of a training step stops after the forward pass",
        RasaModel,
        "train_step",
        tf_training.train_step,
    ),
    Patch(
        "a tracker store that cannot be reached fails the turn instead of Rasa carrying on in memory",
        rasa.core.agent,
        "FailSafeTrackerStore",
        tracker_store.unwrapped,
    ),
)

_originals: dict[Patch, Any] = {}


class UnsupportedVersion(RuntimeError):
    pass


def installed_versions() -> dict[str, str]:
    return {"rasa": rasa.__version__, "tensorflow": tf.__version__}


def check_versions(installed: dict[str, str] | None = None) -> None:
    installed = installed or installed_versions()
    wrong = {name: version for name, version in installed.items() if version != WRITTEN_FOR[name]}
    if wrong:
        found = ", ".join(f"{name} {version}" for name, version in wrong.items())
        wanted = ", ".join(f"{name} {WRITTEN_FOR[name]}" for name in wrong)
        raise UnsupportedVersion(
            f"bot/rasa/patches was written for {wanted}, found {found}: check each patch against "
            "the new version's code (and its test against Rasa's own), then update WRITTEN_FOR."
        )


def install() -> None:
    """Apply every patch once, after the version check."""
    check_versions()
    for patch in PATCHES:
        if patch in _originals:
            continue
        _originals[patch] = getattr(patch.owner, patch.attribute)
        patch.warm_up()
        setattr(patch.owner, patch.attribute, patch.replacement)
        logger.debug("patched %s.%s: %s", patch.owner.__name__, patch.attribute, patch.why)


def uninstall() -> None:
    """Put Rasa's own attributes back (tests compare the two)."""
    for patch, original in list(_originals.items()):
        setattr(patch.owner, patch.attribute, original)
        del _originals[patch]


def rasas_own(owner: Any, attribute: str) -> Any:
    """Rasa's own attribute, whether or not a patch replaced it (tests compare the two)."""
    for patch, original in _originals.items():
        if patch.owner is owner and patch.attribute == attribute:
            return original
    return getattr(owner, attribute)


def installed() -> bool:
    return len(_originals) == len(PATCHES)
