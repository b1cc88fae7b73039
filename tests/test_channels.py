from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
import redis
import requests
import sqlalchemy as sa
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import LockError
from sanic import Sanic
from server_env import ServerThread

from bot.rasa.channels import origins
from bot.rasa.channels.guard import MASKED_METADATA_KEY, Handler, guard_incoming
from bot.rasa.channels.rest import MaskedRestInput, request_problem
from bot.rasa.channels.socketio import MaskedSocketIOInput
from bot.rasa.channels.turn_failures import RETRY_AFTER_SECONDS, store_unreachable
from bot.rasa.channels.widget import WidgetInput, static_file


def test_the_channels_replace_rasas_own() -> None:
    assert MaskedRestInput.name() == "rest"
    assert MaskedSocketIOInput.name() == "socketio"
    assert WidgetInput.name() == "widget"


def test_well_formed_bodies_pass() -> None:
    assert request_problem({"sender": "u1", "message": ""}) is None
    assert request_problem({"sender": "u1", "message": "你好", "metadata": {"a": 1}}) is None


def test_malformed_bodies_are_named() -> None:
    assert request_problem([]) == "body must be a JSON object"
    assert request_problem({"message": "hi"}).startswith("sender")
    assert request_problem({"sender": "x" * 129, "message": "hi"}).startswith("sender")
    assert request_problem({"sender": "u1", "message": None}) == "message must be a string"
    assert (
        request_problem({"sender": "u1", "message": "字" * 5001}) == "message must be at most 5000 characters"
    )
    assert request_problem({"sender": "u1", "message": "hi", "metadata": []}) == "metadata must be an object"


class Recorder:
    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, "bot reply")


async def test_secrets_are_masked_and_warned_about_before_the_reply() -> None:
    rasa, output = Recorder(), CollectingOutputChannel()
    await guard_incoming(rasa)(UserMessage("卡号4111111111111111，验证码 834271", output, "u1"))
    assert rasa.messages[0].text == "卡号[卡号已隐藏，尾号1111]，验证码 [已隐藏]"
    assert rasa.messages[0].metadata[MASKED_METADATA_KEY] == ["card_number", "sms_code"]
    texts = [message["text"] for message in output.messages]
    assert texts[0].startswith("提醒您：银行和本助手都不会索要完整卡号")
    assert texts[1] == "bot reply"


async def test_ordinary_text_passes_unchanged_without_a_warning() -> None:
    rasa, output = Recorder(), CollectingOutputChannel()
    await guard_incoming(rasa)(UserMessage("工行尾号1234被扣了3000元", output, "u1", metadata={"a": 1}))
    assert rasa.messages[0].text == "工行尾号1234被扣了3000元"
    assert rasa.messages[0].metadata == {MASKED_METADATA_KEY: []}  # client metadata is not stored
    assert [message["text"] for message in output.messages] == ["bot reply"]


async def test_an_over_long_message_gets_a_polite_answer_and_skips_rasa() -> None:
    rasa, output = Recorder(), CollectingOutputChannel()
    message = UserMessage("卡号4111111111111111" + "好" * 5001, output, "u1")
    await guard_incoming(rasa)(message)
    assert rasa.messages == []
    assert "4111111111111111" not in message.text  # what a channel may echo back is masked too
    assert "5000字以内" in output.messages[0]["text"]


async def test_a_missing_text_is_treated_as_empty() -> None:
    rasa, output = Recorder(), CollectingOutputChannel()
    await guard_incoming(rasa)(UserMessage(None, output, "u1"))
    assert rasa.messages[0].text == ""


def test_static_files_stay_inside_the_web_folder() -> None:
    assert static_file("../domain.yml") is None
    assert static_file("../../etc/passwd") is None
    assert static_file("vendor/socket.io.min.js").name == "socket.io.min.js"


@contextmanager
def rest_webhook(handler: Handler, **config: object) -> Iterator[str]:
    """Our REST channel in front of ``handler`` (standing in for Rasa), served from a thread."""
    app = Sanic(f"rest_{uuid.uuid4().hex}")
    app.config.update(config)
    app.blueprint(MaskedRestInput().blueprint(handler), url_prefix="/webhooks/rest")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = ServerThread(app, sock)
    thread.start()
    assert thread.ready.wait(timeout=30), "REST channel did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/rest/webhook"
    finally:
        thread.stop()


def test_a_turn_that_fails_inside_rasa_answers_500_not_200() -> None:
    turns = 0

    async def failing_then_answering(message: UserMessage) -> None:
        nonlocal turns
        turns += 1
        await message.output_channel.send_text_message(message.sender_id, f"回复{turns}")
        if turns == 1:
            raise ConnectionError("tracker store unreachable")

    with rest_webhook(failing_then_answering) as url:
        failed = requests.post(url, json={"sender": "a", "message": "你好"}, timeout=30)
        assert failed.status_code == 500
        assert "没有处理成功" in failed.json()["error"]
        # The failure belongs to that request only: the retry is answered normally.
        retried = requests.post(url, json={"sender": "a", "message": "你好"}, timeout=30)
        assert retried.status_code == 200
        assert [message["text"] for message in retried.json()] == ["回复2"]


def test_a_turn_that_could_not_reach_a_store_answers_503_to_send_again() -> None:
    async def lock_store_down(message: UserMessage) -> None:
        try:
            raise redis.ConnectionError("Connection refused")
        except redis.ConnectionError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}")  # noqa: B904, as Rasa does

    with rest_webhook(lock_store_down) as url:
        failed = requests.post(url, json={"sender": "a", "message": "你好"}, timeout=30)
    assert failed.status_code == 503 and failed.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "没有处理成功" in failed.json()["error"]


def test_only_lost_store_connections_count_as_worth_sending_again() -> None:
    refused = psycopg2.OperationalError("connection refused")
    assert store_unreachable(sa.exc.OperationalError("SELECT 1", {}, refused))
    assert store_unreachable(redis.exceptions.BusyLoadingError("loading the append-only file"))
    assert not store_unreachable(ConnectionError("a builtin, as a bug might raise"))
    assert not store_unreachable(sa.exc.IntegrityError("INSERT", {}, psycopg2.IntegrityError("duplicate")))
    assert not store_unreachable(LockError("Could not acquire lock for conversation_id 'a'."))


def test_rest_speaks_only_in_its_own_namespace_and_channel() -> None:
    rasa = Recorder()
    with rest_webhook(rasa) as url:
        body = {
            "sender": "web:0123456789abcdef0123456789abcdef",
            "message": "你好",
            "input_channel": "wechat",
        }
        assert requests.post(url, json=body, timeout=30).status_code == 200
    (message,) = rasa.messages
    assert message.sender_id == "rest:web:0123456789abcdef0123456789abcdef"
    assert message.input_channel == "rest"


FROM_ELSEWHERE = {"X-Forwarded-For": "203.0.113.7"}


def test_rest_answers_other_hosts_only_with_the_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"sender": "backend-user", "message": "你好"}
    monkeypatch.delenv("REST_TOKEN", raising=False)
    with rest_webhook(Recorder(), PROXIES_COUNT=1) as url:
        assert requests.post(url, json=body, headers=FROM_ELSEWHERE, timeout=30).status_code == 403
        assert requests.post(url, json=body, timeout=30).status_code == 200  # loopback itself
    monkeypatch.setenv("REST_TOKEN", "s3cret-token")
    rasa = Recorder()
    with rest_webhook(rasa, PROXIES_COUNT=1) as url:
        for authorization in (None, "Bearer wrong", "s3cret-token", "Basic s3cret-token"):
            headers = {**FROM_ELSEWHERE, **({"Authorization": authorization} if authorization else {})}
            refused = requests.post(url, json=body, headers=headers, timeout=30)
            assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
        assert rasa.messages == []
        granted = {**FROM_ELSEWHERE, "Authorization": "Bearer s3cret-token"}
        assert requests.post(url, json=body, headers=granted, timeout=30).status_code == 200
    assert [message.sender_id for message in rasa.messages] == ["rest:backend-user"]


def test_a_forwarded_address_counts_only_behind_a_trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SANIC_PROXIES_COUNT the header is a client's claim and the peer's address decides."""
    monkeypatch.delenv("REST_TOKEN", raising=False)
    with rest_webhook(Recorder()) as url:
        body = {"sender": "x", "message": "你好"}
        assert requests.post(url, json=body, headers=FROM_ELSEWHERE, timeout=30).status_code == 200


def test_browser_pages_of_other_sites_cannot_drive_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://www.bank.example")
    origins.allowed_origins.cache_clear()
    rasa = Recorder()
    body = {"sender": "u", "message": "你好"}
    with rest_webhook(rasa) as url:
        evil = {"Origin": "https://evil.example"}
        assert requests.post(url, json=body, headers=evil, timeout=30).status_code == 403
        assert requests.options(url, headers=evil, timeout=30).status_code == 403
        assert rasa.messages == []
        bank = {"Origin": "https://www.bank.example"}
        preflight = requests.options(url, headers=bank, timeout=30)
        assert (
            preflight.status_code == 204
            and "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
        )
        answered = requests.post(url, json=body, headers=bank, timeout=30)
        assert answered.status_code == 200
        assert answered.headers["Access-Control-Allow-Origin"] == "https://www.bank.example"
        assert "Access-Control-Allow-Origin" not in requests.post(url, json=body, timeout=30).headers
    origins.allowed_origins.cache_clear()


def test_oversized_bodies_and_metadata_are_refused_and_the_server_keeps_serving() -> None:
    rasa = Recorder()
    with rest_webhook(rasa) as url:
        huge = requests.post(url, data=b'{"sender": "u", "message": "' + b"a" * 70_000 + b'"}', timeout=30)
        assert huge.status_code == 413
        metadata = {"note": "备注" * 1500}
        refused = requests.post(
            url, json={"sender": "u", "message": "你好", "metadata": metadata}, timeout=30
        )
        assert refused.status_code == 400 and "metadata" in refused.json()["error"]
        assert requests.post(url, json={"sender": "u", "message": "你好"}, timeout=30).status_code == 200
    assert [message.text for message in rasa.messages] == ["你好"]
