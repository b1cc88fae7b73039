"""The guard every channel puts in front of Rasa: masking across messages, metadata, the warning."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.domain.masking import InMemorySplitNumberGuard, mask_secrets
from bot.domain.responses import response_text
from bot.rasa.channels.guard import MASKED_METADATA_KEY, guard_incoming, split_guard_from_env
from bot.storage import redis_state

WARNING = response_text("utter_secret_never_needed")


class Recorder:
    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)


async def say(handler: object, text: str, sender: str = "web:alice", metadata: object = None) -> list[str]:
    output = CollectingOutputChannel()
    await handler(UserMessage(text, output, sender, metadata=metadata))  # type: ignore[operator]
    return [message["text"] for message in output.messages]


@pytest.fixture
def default_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("REDIS_URL", raising=False)
    split_guard_from_env.cache_clear()
    yield
    split_guard_from_env.cache_clear()


async def test_a_card_number_over_two_messages_is_stored_as_six_and_four_digits(default_guard: None) -> None:
    rasa = Recorder()
    handler = guard_incoming(rasa)
    assert await say(handler, "卡号6222 0212") == [WARNING]
    assert await say(handler, "3456 7890") == [WARNING]
    assert await say(handler, "3456 7890", sender="web:bob") == [WARNING]  # Bob's own prefix, cut
    assert [message.text for message in rasa.messages] == [
        "卡号6222 02[已隐藏]",
        "[卡号已隐藏，尾号7890]",
        "3456 78[已隐藏]",
    ]
    assert all(message.metadata == {MASKED_METADATA_KEY: ["card_number"]} for message in rasa.messages)


async def test_the_rest_after_a_few_words_is_stored_as_the_cards_last4(default_guard: None) -> None:
    rasa = Recorder()
    handler = guard_incoming(rasa)
    await say(handler, "卡号是6222 0212")
    await say(handler, "刚才没发完：1345 6789 012")  # eleven digits starting with 1, grouped as a card's
    assert [message.text for message in rasa.messages] == [
        "卡号是6222 02[已隐藏]",
        "刚才没发完：[卡号已隐藏，尾号9012]",
    ]


async def test_a_short_named_prefix_then_a_longer_lead_in_is_stored_as_the_cards_last4(
    default_guard: None,
) -> None:
    rasa = Recorder()
    handler = guard_incoming(rasa)
    await say(handler, "银行卡4367 42")  # six digits: shown, but they open the card
    await say(handler, "我眼花打得慢，後面是99 1345 2298")
    assert [message.text for message in rasa.messages] == [
        "银行卡4367 42",
        "我眼花打得慢，後面是[卡号已隐藏，尾号2298]",
    ]


async def test_a_card_number_short_of_its_end_shows_its_first_six_then_its_last_four(
    default_guard: None,
) -> None:
    rasa = Recorder()
    handler = guard_incoming(rasa)
    await say(handler, "卡号62284829873643")  # fourteen digits: no card yet, its last ones may follow
    await say(handler, "31799")
    await say(handler, "卡号 6225 2", sender="web:bob")
    await say(handler, "还有 190 8349 2969", sender="web:bob")  # completes the group of four left open
    assert [message.text for message in rasa.messages] == [
        "卡号622848[已隐藏]",
        "[卡号已隐藏，尾号1799]",
        "卡号 6225 2",
        "还有 [卡号已隐藏，尾号2969]",
    ]


async def test_a_card_number_the_rest_channel_cut_keeps_its_rest_hidden(default_guard: None) -> None:
    rasa = Recorder()
    handler = guard_incoming(rasa, InMemorySplitNumberGuard())
    premasked = mask_secrets("卡号62284829873643")
    await say(handler, premasked.text, metadata={MASKED_METADATA_KEY: list(premasked.kinds)})
    await say(handler, "31799")
    assert [message.text for message in rasa.messages] == ["卡号622848[已隐藏]", "[已隐藏]"]


async def test_the_rest_channels_premasked_text_and_kinds_are_kept(default_guard: None) -> None:
    rasa = Recorder()
    handler = guard_incoming(rasa, InMemorySplitNumberGuard())
    for text in ("卡号4111111111111111，验证码 834271", "6222 0212 3456"):
        premasked = mask_secrets(text)
        await say(handler, premasked.text, metadata={MASKED_METADATA_KEY: list(premasked.kinds)})
    await say(handler, "7890")
    assert [message.text for message in rasa.messages] == [
        "卡号[卡号已隐藏，尾号1111]，验证码 [已隐藏]",
        "6222 02[已隐藏]",
        "[卡号已隐藏，尾号7890]",
    ]
    assert rasa.messages[0].metadata == {MASKED_METADATA_KEY: ["card_number", "sms_code"]}


async def test_client_metadata_is_dropped_and_forged_kinds_are_ignored(default_guard: None) -> None:
    rasa = Recorder()
    handler = guard_incoming(rasa)
    metadata = {"cvv": "123", "pan": "6222021234567894", MASKED_METADATA_KEY: ["<b>"]}
    metadata["wechat_msg_type"] = "text"
    assert await say(handler, "工行尾号1234被扣了3000元", metadata=metadata) == []
    assert rasa.messages[0].metadata == {MASKED_METADATA_KEY: [], "wechat_msg_type": "text"}
    assert rasa.messages[0].text == "工行尾号1234被扣了3000元"


def test_one_split_guard_per_process_in_redis_when_redis_url_is_set(
    monkeypatch: pytest.MonkeyPatch, default_guard: None
) -> None:
    assert isinstance(split_guard_from_env(), InMemorySplitNumberGuard)
    assert split_guard_from_env() is split_guard_from_env()
    split_guard_from_env.cache_clear()
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/0")
    guard = split_guard_from_env()
    assert isinstance(guard, redis_state.RedisSplitNumberGuard)
    assert guard.client.connection_pool.connection_kwargs["port"] == 6390
