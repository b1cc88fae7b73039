"""Rasa's action-response check, with the validator built once (bot/rasa/patches/action_responses.py)."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.rasa.patches.action_responses import validate_action_result


def remote_action() -> RemoteAction:
    return RemoteAction("action_create_case", None)


def test_a_well_formed_response_passes() -> None:
    response = {
        "events": [{"event": "slot", "name": "case_id", "value": "WS-20261125-0001"}],
        "responses": [{"response": "utter_case_created", "case_id": "WS-20261125-0001"}],
    }
    assert validate_action_result(remote_action(), response) is True


@pytest.mark.parametrize(
    "response",
    [{"events": "not a list"}, {"events": [{"name": "no event type"}]}, {"responses": ["not an object"]}],
)
def test_a_malformed_response_fails_with_rasas_message(response: dict) -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        validate_action_result(remote_action(), response)
