"""Rasa's prediction graph, run node by node, without predictions that cannot change the outcome.

Rasa 3.6 runs each prediction graph through ``dask.get``: for the six to
eleven nodes of one run, dask's scheduler (ordering, queues, callbacks) costs
about 7 % of the Rasa server's CPU under load (py-spy, 2026-11-26). ``SequentialGraphRunner`` runs the
same nodes, built the same way, in dependency order.

It also leaves out policy predictions that cannot win. The ensemble
(``DefaultPolicyPredictionEnsemble``) picks the prediction with the highest
(confidence, priority). When RulePolicy predicts with confidence 1.0, a
policy of lower priority can at best tie on confidence and then loses on
priority; its prediction adds no events, so the ensemble's answer is the same
whatever it predicted. Such a policy then gets the prediction Rasa gives
when a policy has no model (all zeros) instead of running. That holds only
for policies whose predictions are never end to end (those outrank
intent-based ones) nor carry events; ``_can_be_outranked`` lists them. After
an ``ActionExecutionRejected`` the ensemble zeroes the rejected action in
every prediction, so then every policy runs.

In the benchmark's conversations rules decide every turn, so TED and
MemoizationPolicy never run there; off script they run as before. The tests
compare this runner's predictions with dask's on the training stories, the
test stories and random conversations.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

CERTAIN = 1.0


def _can_be_outranked(policy: Policy) -> bool:
    """Whether a certain RulePolicy prediction always beats this policy's, whatever it predicts."""
    if type(policy) is MemoizationPolicy:
        return True  # recalls with confidence 1.0 or nothing; never end to end, no events
    if type(policy) is TEDPolicy:
        # Without user text among its features TED never predicts end to end; it adds no events.
        return TEXT not in policy.fake_features
    return False


def _rejected_last_action(tracker: DialogueStateTracker) -> bool:
    last_action = next(
        (
            event
            for event in reversed(tracker.events)
            if isinstance(event, (ActionExecutionRejected, ActionExecuted))
        ),
        None,
    )
    return isinstance(last_action, ActionExecutionRejected)


class SequentialGraphRunner(DaskGraphRunner):
    """``DaskGraphRunner``'s nodes and results, run in dependency order in the calling thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._orders: dict[tuple[str, ...], list[str]] = {}
        self._rule_node_for: dict[str, str] = self._outranked_policy_nodes()

    def _outranked_policy_nodes(self) -> dict[str, str]:
        """Policy node → the RulePolicy node whose certain prediction makes it pointless."""
        found: dict[str, str] = {}
        for schema_node in self._graph_schema.nodes.values():
            if not issubclass(schema_node.uses, DefaultPolicyPredictionEnsemble):
                continue
            policies = {
                name: self._instantiated_nodes[name]._component
                for name in schema_node.needs.values()
                if isinstance(getattr(self._instantiated_nodes.get(name), "_component", None), Policy)
            }
            rules = [name for name, policy in policies.items() if type(policy) is RulePolicy]
            if len(rules) != 1:
                continue
            rule_priority = policies[rules[0]].priority
            for name, policy in policies.items():
                if policy.priority < rule_priority and _can_be_outranked(policy):
                    found[name] = rules[0]
        return found

    def _order(self, targets: tuple[str, ...]) -> list[str]:
        """The nodes ``targets`` need, each after its needs; RulePolicy before the policies it outranks."""
        order = self._orders.get(targets)
        if order is None:
            schema = self._graph_schema.minimal_graph_schema(list(targets))
            order, placed = [], set()

            def place(name: str) -> None:
                if name in placed or name not in schema.nodes:
                    return
                placed.add(name)
                needs = list(schema.nodes[name].needs.values())
                if name in self._rule_node_for:
                    needs.insert(0, self._rule_node_for[name])
                for need in needs:
                    place(need)
                order.append(name)

            for target in targets:
                place(target)
            order = self._orders[targets] = order
        return order

    def _needless(self, node_name: str, results: dict[str, tuple[str, Any]]) -> PolicyPrediction | None:
        """The zero prediction for a policy node whose prediction cannot win this time, else None."""
        rule_node = self._rule_node_for.get(node_name)
        if rule_node not in results:
            return None
        rule_prediction = results[rule_node][1]
        if rule_prediction.max_confidence < CERTAIN:
            return None
        inputs = self._graph_schema.nodes[node_name].needs
        tracker = results.get(inputs.get("tracker", ""), (None, None))[1]
        domain = results.get(inputs.get("domain", ""), (None, None))[1]
        if not isinstance(tracker, DialogueStateTracker) or not isinstance(domain, Domain):
            return None
        if _rejected_last_action(tracker):
            return None
        policy: Policy = self._instantiated_nodes[node_name]._component
        return policy._prediction(policy._default_predictions(domain))

    def run(
        self,
        inputs: dict[str, Any] | None = None,
        targets: list[str] | None = None,
    ) -> dict[str, Any]:
        """Runs the graph (see ``GraphRunner.run``); same results as ``DaskGraphRunner.run``."""
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        results: dict[str, tuple[str, Any]] = {}
        for input_name, input_value in (inputs or {}).items():
            if input_name in self._graph_schema.nodes:
                raise GraphRunError(
                    f"Input value '{input_name}' clashes with a node name. Make sure "
                    f"that none of the input names passed to the `run` method are the "
                    f"same as node names in the graph schema."
                )
            results[input_name] = (input_name, input_value)
        try:
            for node_name in self._order(run_targets):
                needless = self._needless(node_name, results)
                if needless is not None:
                    results[node_name] = (node_name, needless)
                    continue
                node: GraphNode = self._instantiated_nodes[node_name]
                needs = self._graph_schema.nodes[node_name].needs.values()
                # Like dask, a need nothing provides is passed as its name; the node reports it.
                results[node_name] = node(*(results.get(need, need) for need in needs))
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e
        missing = [target for target in run_targets if target not in results]
        if missing:
            raise GraphRunError(f"Nothing provides the targets {missing}.")
        return {target: results[target][1] for target in run_targets}
