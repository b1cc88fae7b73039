"""Rasa adapters: the spaCy pipeline's rule-based entities, fallbacks read again, and unclear input."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.extractors.spacy_entity_extractor import SpacyEntityExtractor
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from spacy.tokens import Doc

from bot.domain.conversation import command_in, speaks_as_merchant
from bot.rasa.nlu.rescue import FALLBACK_INTENT, rescued_intent
from bot.rasa.nlu.unclear import UNCLEAR_INPUT_INTENT, unclear_reason


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False, model_from="SpacyNLP"
)
class NormalisedSpacyEntityExtractor(SpacyEntityExtractor):
    """Like ``SpacyEntityExtractor``, but reports the normalised value each rule found.

    It reuses the doc ``SpacyNLP`` already parsed instead of parsing the text
    a second time.
    """

    def process(self, messages: list[Message], model: SpacyModel) -> list[Message]:
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT]) or model.model(message.get(TEXT) or "")
            extracted = self.filter_irrelevant_entities(
                self.add_extractor_name(self._extract_entities(doc)), self._config["dimensions"]
            )
            message.set(ENTITIES, message.get(ENTITIES, []) + extracted, add_to_output=True)
        return messages

    @staticmethod
    def _extract_entities(doc: Doc) -> list[dict[str, Any]]:
        return [
            {
                "entity": ent.label_,
                "value": _typed_value(ent.label_, ent.kb_id_),
                "start": ent.start_char,
                "end": ent.end_char,
                "confidence": None,
            }
            for ent in doc.ents
        ]


def _typed_value(entity: str, value: str) -> Any:
    if entity == "amount":
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


class _RuleClassifier(GraphComponent, IntentClassifier):
    """An intent classifier made of rules: nothing to train, nothing to store."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _RuleClassifier:
        return cls()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class FallbackRescue(_RuleClassifier):
    """After ``FallbackClassifier``: a fallback whose text plainly asks for a person,
    reports a step done, or gives a fact gets that intent (``bot.rasa.nlu.rescue``)."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) != FALLBACK_INTENT:
                continue
            entities = [entity["entity"] for entity in message.get(ENTITIES) or []]
            intent = rescued_intent(message.get(TEXT) or "", entities)
            if intent is None:
                continue
            ranked = {guess.get(INTENT_NAME_KEY): guess for guess in message.data.get(INTENT_RANKING_KEY, [])}
            confidence = ranked.get(intent, {}).get(PREDICTED_CONFIDENCE_KEY, 0.0)
            message.data[INTENT] = {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: confidence}
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class MerchantSpeaker(_RuleClassifier):
    """After the intent classifiers: a mis-swipe report whose writer opens by saying they
    are the merchant ("我是商户，本来88结果刷成了880") is the merchant's report
    (``bot.domain.conversation.speaks_as_merchant``), with the classifier's confidence."""

    CARDHOLDER_REPORT = "report_misswipe"
    MERCHANT_REPORT = "merchant_report_misswipe"

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) != self.CARDHOLDER_REPORT or not speaks_as_merchant(
                message.get(TEXT) or ""
            ):
                continue
            merchant = {
                INTENT_NAME_KEY: self.MERCHANT_REPORT,
                PREDICTED_CONFIDENCE_KEY: intent.get(PREDICTED_CONFIDENCE_KEY),
            }
            others = [
                guess
                for guess in message.data.get(INTENT_RANKING_KEY, [])
                if guess.get(INTENT_NAME_KEY) != self.MERCHANT_REPORT
            ]
            message.data[INTENT] = merchant
            message.data[INTENT_RANKING_KEY] = [merchant, *others]
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class CommandClassifier(_RuleClassifier):
    """After the intent classifiers: "不用提醒我了", "删除我的信息", "导出我的信息" and the
    typed answers to the erase confirmation are their intents (``bot.domain.conversation.command_in``).
    Rules rather than training examples: those took the classifier's held-out accuracy below its floor."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            command = command_in(message.get(TEXT) or "")
            if command is None:
                continue
            given = {INTENT_NAME_KEY: command, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.data[INTENT] = given
            message.data[INTENT_RANKING_KEY] = [given, *message.data.get(INTENT_RANKING_KEY, [])]
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class UnclearInputClassifier(_RuleClassifier):
    """After the intent classifiers: markup, code, a bare URL or random characters is
    ``unclear_input`` with no entities, however sure the classifier was (``bot.rasa.nlu.unclear``)."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if unclear_reason(message.get(TEXT) or "") is None:
                continue
            unclear = {INTENT_NAME_KEY: UNCLEAR_INPUT_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.data[INTENT] = unclear
            message.data[INTENT_RANKING_KEY] = [unclear, *message.data.get(INTENT_RANKING_KEY, [])]
            message.data[ENTITIES] = []
        return messages
