"""Rasa input channels. Each masks secrets before Rasa sees the text."""

from bot.channels import action_responses

action_responses.install()
