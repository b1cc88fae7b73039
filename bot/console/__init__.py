"""The staff console: work the case queue, review transcripts, teach the bot.

A separate Sanic app (``python -m bot.console serve``) over the case store's
SQLite database, where it keeps its own tables (``console_*`` migrations), and
Rasa's SQL tracker store, which it only ever opens read-only.
"""
