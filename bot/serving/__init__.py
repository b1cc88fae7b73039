"""Speed fixes for the Rasa server, each one found by profiling it under load (bench/history.md).

Each keeps Rasa's behaviour and replaces a costly step of pinned Rasa 3.6 /
TensorFlow 2.12 with a cheaper one giving the same result. They are installed
when Rasa imports our channels (``bot/channels/__init__.py``), i.e. in every
``rasa run`` that reads credentials.yml; training and ``rasa test`` run stock
Rasa. The tracker store, the other fix, is chosen in endpoints.yml
(``bot/tracker_store.py``).
"""

from bot.serving import action_endpoint, action_responses, graph_runner, tf_inference


def install() -> None:
    action_responses.install()
    action_endpoint.install()
    tf_inference.install()
    graph_runner.install()
