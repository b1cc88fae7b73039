"""Rasa input channels. Each masks secrets before Rasa sees the text."""

from bot import serving

serving.install()
