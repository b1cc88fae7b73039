"""Rasa input channels. Each masks secrets before Rasa sees a message (``guard.py``)."""
