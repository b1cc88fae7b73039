from __future__ import annotations

import pytest

from bot import links


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WUSHUA_LINK_SECRET", "test-secret")
    links._serializer.cache_clear()


def test_a_token_names_its_case_and_owner() -> None:
    token = links.checklist_token("WS-20261125-0001", "alice")
    assert links.read_checklist_token(token) == ("WS-20261125-0001", "alice")
    assert "WS-20261125-0001" not in links.checklist_path("WS-20261125-0001", "alice").split("/")[-1][:20]


@pytest.mark.parametrize("token", ["", "WS-20261125-0001", "abc.def.ghi", "<script>"])
def test_anything_else_is_rejected(token: str) -> None:
    assert links.read_checklist_token(token) is None


def test_a_token_from_another_secret_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    token = links.checklist_token("WS-20261125-0001", "alice")
    monkeypatch.setenv("WUSHUA_LINK_SECRET", "other-secret")
    links._serializer.cache_clear()
    assert links.read_checklist_token(token) is None


def test_an_expired_token_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    token = links.checklist_token("WS-20261125-0001", "alice")
    monkeypatch.setattr(links, "LINK_LIFETIME_SECONDS", -1)
    assert links.read_checklist_token(token) is None


def test_a_tampered_token_is_rejected() -> None:
    token = links.checklist_token("WS-20261125-0001", "alice")
    assert links.read_checklist_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
