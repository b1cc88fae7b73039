"""The project's own spaCy ``zh`` pipeline: jieba segmentation plus rule-based entities.

spaCy publishes no Chinese pipeline we can install here, so this module
registers the two pieces ``scripts/build_spacy_model.py`` assembles:

* ``wushua.jieba_tokenizer.v1`` segments with jieba using the project's user
  dictionary (bank aliases and trade words), keeps spam-style obfuscations
  such as ``ka卡`` as one token, and sets each token's lemma to its normalised
  form. Rasa's ``SpacyTokenizer`` drops whitespace tokens and its featurizers
  read the lemmas, so mixed Chinese/English text and obfuscated spellings reach
  DIET cleanly.
* ``wushua_entities`` finds amounts, dates, banks, card tails, card types and
  case ids and stores them as ``doc.ents`` with the normalised value in
  ``kb_id_``.

Both are exposed through entry points in ``pyproject.toml`` so ``spacy.load``
finds them in any process.
"""

import json
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jieba
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, get_words_and_spaces
from spacy.vocab import Vocab

from bot.domain import knowledge
from bot.domain.normalise import find_entities, normalise_text

_LATIN_RUN = re.compile(r"[A-Za-z]{1,6}")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORDS_FILE = "user_words.json"


def default_user_words() -> list[str]:
    vocabulary = knowledge.load_yaml("vocabulary.yml")["words"]
    return sorted({*knowledge.bank_aliases(), *vocabulary})


def obfuscation_spans(text: str) -> list[tuple[int, int, str]]:
    """Spans like ``ka卡`` (start, end, clean form) where a pinyin run spells its neighbour."""
    spans = []
    for match in _LATIN_RUN.finditer(text):
        start, end = match.span()
        if end < len(text) and _CJK.match(text[end]):
            if normalise_text(text[start : end + 1]) == text[end]:
                spans.append((start, end + 1, text[end]))
                continue
        if start > 0 and _CJK.match(text[start - 1]):
            if normalise_text(text[start - 1 : end]) == text[start - 1]:
                spans.append((start - 1, end, text[start - 1]))
    return spans


class JiebaTokenizer:
    """A spaCy tokenizer backed by its own jieba instance and user dictionary."""

    def __init__(self, vocab: Vocab, user_words: Iterable[str] = ()) -> None:
        self.vocab = vocab
        self.user_words: list[str] = []
        self._jieba = jieba.Tokenizer()
        self.add_words(user_words)

    def add_words(self, words: Iterable[str]) -> None:
        for word in words:
            self._jieba.add_word(word, freq=100_000)
            self.user_words.append(word)

    def __call__(self, text: str) -> Doc:
        pieces: list[tuple[str, str]] = []
        cursor = 0
        for start, end, clean in obfuscation_spans(text):
            pieces.extend(self._segment(text[cursor:start]))
            pieces.append((text[start:end], clean))
            cursor = end
        pieces.extend(self._segment(text[cursor:]))
        words, spaces = get_words_and_spaces([word for word, _ in pieces], text)
        doc = Doc(self.vocab, words=words, spaces=spaces)
        lemmas = iter(lemma for _, lemma in pieces)
        for token in doc:
            # get_words_and_spaces may insert whitespace tokens the pieces lack.
            lemma = next(lemmas) if not token.is_space else token.text
            token.lemma_ = lemma
        return doc

    def _segment(self, text: str) -> list[tuple[str, str]]:
        return [
            (word, unicodedata.normalize("NFKC", word).lower())
            for word in self._jieba.cut(text, HMM=True)
            if word and not word.isspace()
        ]

    def to_disk(self, path: str | Path, **_: Any) -> None:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / _WORDS_FILE).write_text(
            json.dumps(self.user_words, ensure_ascii=False, indent=0), encoding="utf-8"
        )

    def from_disk(self, path: str | Path, **_: Any) -> "JiebaTokenizer":
        words = json.loads((Path(path) / _WORDS_FILE).read_text(encoding="utf-8"))
        self.user_words = []
        self.add_words(words)
        return self

    def to_bytes(self, **_: Any) -> bytes:
        return json.dumps(self.user_words, ensure_ascii=False).encode("utf-8")

    def from_bytes(self, data: bytes, **_: Any) -> "JiebaTokenizer":
        self.user_words = []
        self.add_words(json.loads(data.decode("utf-8")))
        return self


def create_jieba_tokenizer():  # registered as wushua.jieba_tokenizer.v1
    def make_tokenizer(nlp: Language) -> "JiebaTokenizer":
        return JiebaTokenizer(nlp.vocab)

    return make_tokenizer


class RuleEntities:
    """Puts the normalised entities from ``bot.domain.normalise`` into ``doc.ents``."""

    def __call__(self, doc: Doc) -> Doc:
        spans: list[Span] = []
        for match in find_entities(doc.text):
            span = doc.char_span(
                match.start,
                match.end,
                label=match.entity,
                kb_id=str(match.value),
                alignment_mode="expand",
            )
            if span is not None:
                spans.append(span)
        doc.ents = filter_spans(spans)
        return doc


def create_rule_entities(nlp: Language, name: str) -> RuleEntities:  # factory wushua_entities
    return RuleEntities()


Language.factory("wushua_entities", func=create_rule_entities)
