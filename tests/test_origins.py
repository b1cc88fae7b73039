from __future__ import annotations

import pytest

from bot.rasa.channels import origins


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://www.bank.example, https://help.bank.example/")
    origins.allowed_origins.cache_clear()
    yield
    origins.allowed_origins.cache_clear()


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "bot.example:443", True),  # not a browser page
        ("https://bot.example", "bot.example", True),  # the bot's own pages
        ("http://bot.example:8080", "bot.example:8080", True),
        ("http://localhost:3000", "bot.example", True),
        ("http://127.0.0.1:5005", "127.0.0.1:5005", True),
        ("https://www.bank.example", "bot.example", True),
        ("https://HELP.bank.example", "bot.example", True),
        ("https://evil.example", "bot.example", False),
        ("https://www.bank.example.evil.example", "bot.example", False),
        ("https://bot.example.evil.example", "bot.example", False),
        ("null", "bot.example", False),  # sandboxed iframes, file:// pages
        ("file://", "bot.example", False),
        ("javascript:alert(1)", "bot.example", False),
    ],
)
def test_origins(origin: str | None, host: str, allowed: bool) -> None:
    assert origins.origin_allowed(origin, host) is allowed
