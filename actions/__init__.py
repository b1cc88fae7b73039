"""Thin rasa-sdk actions; the logic they call lives in ``bot/``."""

from actions.server import configure_action_server

configure_action_server()
