"""Build the project's spaCy ``zh`` pipeline into ``models/spacy_zh``.

Inputs are versioned in ``data/knowledge/`` (bank aliases, vocabulary); the
output is git-ignored and rebuilt by ``make`` when they change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import spacy

from bot.rasa.nlu.spacy_pipeline import default_user_words

PIPELINE_VERSION = "0.1.0"


def build(output: Path) -> None:
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"@tokenizers": "wushua.jieba_tokenizer.v1"}}})
    nlp.tokenizer.add_words(default_user_words())
    nlp.add_pipe("wushua_entities")
    nlp.meta.update(
        {"name": "wushua_zh", "version": PIPELINE_VERSION, "description": "jieba + rule entities"}
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "models/spacy_zh"))
