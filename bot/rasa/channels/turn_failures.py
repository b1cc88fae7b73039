"""A turn that failed inside Rasa: whether sending again may help (the user is told
``utter_turn_failed``).

Rasa's own channels answer a failed turn as if it had worked (REST: a 200
with whatever was collected; socket.io: no acknowledgement at all), so a
client cannot tell a stored message from a lost one. Ours say it failed. When
PostgreSQL or Redis could not be reached (a restart, a network cut), the
replica reconnects on its own and the same message will go through shortly:
the REST channel answers 503 with ``Retry-After`` instead of 500, which stays
for everything else (a bug), and the socket.io ack says so too.
"""

from __future__ import annotations

import redis
import sqlalchemy as sa

RETRY_AFTER_SECONDS = 2


def store_unreachable(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from or while handling, is a lost store connection.

    Rasa's lock store re-raises Redis errors as a ``LockError`` carrying only
    their text, so the chain (``__cause__``, ``__context__``) is searched.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, redis.ConnectionError | redis.TimeoutError):
            return True
        if isinstance(current, sa.exc.OperationalError | sa.exc.InterfaceError):
            return True  # the server went away, refused the connection, or is shutting down
        if isinstance(current, sa.exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False
