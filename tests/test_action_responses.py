"""Rasa's action-response check, with the validator built once (bot/serving/action_responses.py)."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

import bot.channels  # noqa: F401  (installs the check, as Rasa's channel loading does)
from bot.serving.action_responses import validate_action_result


def remote_action() -> RemoteAction:
    return RemoteAction("action_create_case", None)


def test_importing_the_channels_installs_the_check() -> None:
    assert RemoteAction._validate_action_result is validate_action_result


def test_a_well_formed_response_passes() -> None:
    response = {
        "events": [{"event": "slot", "name": "case_id", "value": "WS-20261125-0001"}],
        "responses": [{"response": "utter_case_created", "case_id": "WS-20261125-0001"}],
    }
    assert remote_action()._validate_action_result(response) is True


@pytest.mark.parametrize(
    "response",
    [{"events": "not a list"}, {"events": [{"name": "no event type"}]}, {"responses": ["not an object"]}],
)
def test_a_malformed_response_fails_with_rasas_message(response: dict) -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        remote_action()._validate_action_result(response)
