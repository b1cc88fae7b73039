"""Links to a copy of a user's data (bot/infra/export_links.py): opaque, unforgeable, short-lived."""

from __future__ import annotations

import time

import pytest
from cryptography.fernet import Fernet

from bot.infra import export_links
from bot.infra.export_links import EXPORT_PATH, conversation_for_export, new_export_link


def token_of(link: str) -> str:
    assert link.startswith(EXPORT_PATH)
    return link.removeprefix(EXPORT_PATH)


def test_a_link_opens_its_conversation_and_names_nothing() -> None:
    token = token_of(new_export_link("wechat:oAbC123"))
    assert "oAbC123" not in token and "wechat" not in token
    assert conversation_for_export(token) == "wechat:oAbC123"
    assert token_of(new_export_link("wechat:oAbC123")) != token  # each link is new


@pytest.mark.parametrize("token", ["", "x", "A" * 100, "../../etc/passwd", "完全不是令牌"])
def test_anything_else_opens_nothing(token: str) -> None:
    assert conversation_for_export(token) is None


def test_a_token_sealed_with_another_key_opens_nothing() -> None:
    forged = Fernet(Fernet.generate_key()).encrypt(b"web:victim").decode()
    assert conversation_for_export(forged) is None


def test_a_link_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = token_of(new_export_link("web:abc"))
    later = time.time() + export_links.LIFETIME.total_seconds() + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert conversation_for_export(token) is None
