"""Checklist links: opaque, stored by hash, expiring, revocable; on both stores."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.domain import links
from bot.domain.cases import CaseStore, Facts
from bot.storage import open_store


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CaseStore]:
    url = f"sqlite:///{tmp_path / 'cases.db'}" if request.param == "sqlite" else None
    with closing(open_store(url or request.getfixturevalue("postgres_url"))) as opened:
        yield opened


def token_of(path: str) -> str:
    assert path.startswith(links.CHECKLIST_PATH)
    return path[len(links.CHECKLIST_PATH) :]


def test_a_link_opens_its_case_and_names_neither_case_nor_conversation(store: CaseStore) -> None:
    case = store.open_case("web:0f3a9c", "socketio", "misswipe", Facts(amount=3000.0))
    token = token_of(links.new_checklist_link(store, case.case_id))
    assert links.case_for_link(store, token).case_id == case.case_id
    decoded = b""
    for candidate in (token, token + "=", token + "=="):
        try:
            decoded += base64.urlsafe_b64decode(candidate)
        except (binascii.Error, ValueError):
            continue
    for revealing in (case.case_id, "0f3a9c", "web:", "WS-"):
        assert revealing not in token
        assert revealing.encode() not in decoded


def test_the_store_keeps_only_a_hash_of_the_token(store: CaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", Facts())
    token = token_of(links.new_checklist_link(store, case.case_id))
    assert store.case_for_checklist_link(token) is None
    assert store.case_for_checklist_link(links.token_hash(token)).case_id == case.case_id


@pytest.mark.parametrize("token", ["", "WS-20261125-0001", "abc.def.ghi", "<script>", "a" * 500])
def test_anything_else_opens_nothing(store: CaseStore, token: str) -> None:
    store.open_case("rest:alice", "rest", "misswipe", Facts())
    assert links.case_for_link(store, token) is None


def test_a_link_expires(store: CaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", Facts())
    token = token_of(links.new_checklist_link(store, case.case_id))
    later = date(2026, 11, 25) + links.LINK_LIFETIME + timedelta(days=1)
    monkeypatch.setenv("WUSHUA_TODAY", later.isoformat())
    assert links.case_for_link(store, token) is None


def test_staff_revoke_every_link_of_a_case_and_it_is_logged(store: CaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", Facts())
    other = store.open_case("rest:bob", "rest", "misswipe", Facts())
    tokens = [token_of(links.new_checklist_link(store, case.case_id)) for _ in range(2)]
    kept = token_of(links.new_checklist_link(store, other.case_id))
    assert store.revoke_checklist_links(case.case_id, by="alice-staff") == 2
    assert all(links.case_for_link(store, token) is None for token in tokens)
    assert links.case_for_link(store, kept).case_id == other.case_id
    assert store.events(case.case_id)[-1]["detail"] == {"by": "alice-staff", "links": 2}
    assert store.revoke_checklist_links(case.case_id, by="alice-staff") == 0
