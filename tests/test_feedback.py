"""Reading a rating and cleaning a comment (bot/domain/feedback.py)."""

from __future__ import annotations

import doctest

import pytest

from bot.domain import feedback
from bot.domain.feedback import MAX_COMMENT_CHARS, Rating, clean_comment, rating, rating_from_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("满意", Rating(5, "satisfied")),
        ("非常满意，谢谢", Rating(5, "satisfied")),
        ("五星好评", Rating(5, "satisfied")),
        ("一般吧", Rating(3, "neutral")),
        ("还行", Rating(3, "neutral")),
        ("不满意", Rating(1, "dissatisfied")),  # not read as 满意
        ("不太满意，太慢", Rating(1, "dissatisfied")),
        ("差评", Rating(1, "dissatisfied")),
        ("打4分", Rating(4, "satisfied")),
        ("两分", Rating(2, "dissatisfied")),
        ("3分，一般", Rating(3, "neutral")),
        ("打8分", None),
        ("下一步", None),
    ],
)
def test_a_typed_rating_is_read_from_its_words(text: str, expected: Rating | None) -> None:
    assert rating_from_text(text) == expected


def test_a_button_score_is_taken_only_from_one_to_five() -> None:
    assert [rating(value) for value in (5, "3", 1.0, 2.5, 0, 6, "x", None)] == [
        Rating(5, "satisfied"),
        Rating(3, "neutral"),
        Rating(1, "dissatisfied"),
        None,
        None,
        None,
        None,
        None,
    ]


def test_a_comment_is_masked_before_it_is_cut() -> None:
    # Cut first, the card number would lose its last digits and no longer look like one.
    typed = "好" * (MAX_COMMENT_CHARS - 8) + "6222020200112233445"
    cleaned = clean_comment(typed)
    assert len(cleaned) == MAX_COMMENT_CHARS and "62220202" not in cleaned
    assert clean_comment(" \n\t ") is None


def test_the_examples_in_the_docstrings_hold() -> None:
    assert doctest.testmod(feedback).failed == 0
