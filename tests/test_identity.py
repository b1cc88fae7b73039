"""Channel namespaces, the widget's signed sessions and the naming of conversations recorded before them."""

from __future__ import annotations

import pytest

from bot.infra import identity, server_secret


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WUSHUA_SECRET", "test-secret")
    server_secret.server_secret.cache_clear()
    yield
    server_secret.server_secret.cache_clear()


def test_each_channel_has_its_own_namespace() -> None:
    assert identity.conversation_id("socketio", "abc") == "web:abc"
    assert identity.conversation_id("wechat", "oUser") == "wechat:oUser"
    assert identity.conversation_id("rest", "web:abc") == "rest:web:abc"
    assert identity.namespace_of("rest:web:abc") == "rest"
    assert identity.namespace_of("abc") is None and identity.namespace_of("mail:abc") is None


def test_a_widget_session_resumes_only_with_its_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    session = identity.new_widget_session()
    assert len(session.session_id) == 32 and session.conversation_id == f"web:{session.session_id}"
    assert identity.verified_widget_session(session.session_id, session.token) == session
    other = identity.new_widget_session()
    for session_id, token in [
        (session.session_id, other.token),
        (session.session_id, session.token[:-1] + ("A" if session.token[-1] != "A" else "B")),
        (session.session_id, ""),
        (session.session_id, None),
        (None, session.token),
        ("x" * 500, session.token),
        (42, session.token),
    ]:
        assert identity.verified_widget_session(session_id, token) is None
    monkeypatch.setenv("WUSHUA_SECRET", "another-secret")
    server_secret.server_secret.cache_clear()
    assert identity.verified_widget_session(session.session_id, session.token) is None


def test_a_signature_for_one_purpose_is_worthless_for_another() -> None:
    session = identity.new_widget_session()
    assert server_secret.signer("other-purpose").verify_signature(session.session_id, session.token) is False


def test_conversations_recorded_before_namespaces_get_their_channels_namespace() -> None:
    widget_id, openid = "0123456789abcdef0123456789abcdef", "oUser-0000000000000000000001"
    assert identity.legacy_conversation_id(widget_id, "socketio") == f"web:{widget_id}"
    assert identity.legacy_conversation_id("me", "rest") == "rest:me"
    assert identity.legacy_conversation_id(openid, "wechat") == f"wechat:{openid}"
    # Without a recorded channel, the id's shape decides.
    assert identity.legacy_conversation_id(widget_id, None) == f"web:{widget_id}"
    assert identity.legacy_conversation_id(openid, "unknown") == f"wechat:{openid}"
    assert identity.legacy_conversation_id("test-3f2a", None) == "rest:test-3f2a"
    assert identity.legacy_conversation_id("web:abc", "rest") == "web:abc"  # already done


def test_keyed_hashes_are_stable_per_purpose_and_secret() -> None:
    first = server_secret.keyed_hash("wechat-user", "oUser")
    assert first == server_secret.keyed_hash("wechat-user", "oUser")
    assert first != server_secret.keyed_hash("other", "oUser")
    assert first != server_secret.keyed_hash("wechat-user", "oUser2")
