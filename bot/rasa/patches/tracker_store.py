"""A tracker store that cannot be reached fails the turn, instead of Rasa carrying on in memory.

Rasa's agent wraps every tracker store in ``FailSafeTrackerStore``: when
PostgreSQL is restarting, ``retrieve`` answers "no such conversation" and
``save`` writes to a dictionary in this process. The turn then runs as a new
conversation, the channel answers 200, and the message is in no database: the
cluster fault test lost acknowledged messages that way. Without the wrapper the
error reaches the channel, which tells the client to send again
(``bot/rasa/channels/turn_failures.py``); the replica reconnects on its own
(``bot/rasa/tracker_store.py`` pings pooled connections).

It replaces the name ``FailSafeTrackerStore`` in ``rasa.core.agent``, whose one
use is ``Agent._create_tracker_store``: ``return FailSafeTrackerStore(tracker_store)``.
"""

from __future__ import annotations

from rasa.core.tracker_store import TrackerStore


def unwrapped(tracker_store: TrackerStore) -> TrackerStore:
    """The store itself, in place of the fail-safe wrapper Rasa would build around it."""
    return tracker_store
