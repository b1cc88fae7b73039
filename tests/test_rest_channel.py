from __future__ import annotations

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels.rest import MASKED_METADATA_KEY, MaskedRestInput, request_problem, warn_about_masked_secrets


def test_the_channel_replaces_rasas_rest_channel() -> None:
    assert MaskedRestInput.name() == "rest"


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


async def test_a_masked_secret_is_warned_about_before_the_reply() -> None:
    handled: list[str] = []

    async def on_new_message(message: UserMessage) -> None:
        handled.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, "bot reply")

    output = CollectingOutputChannel()
    handler = warn_about_masked_secrets(on_new_message)
    await handler(UserMessage("验证码[已隐藏]", output, "u1", metadata={MASKED_METADATA_KEY: ["sms_code"]}))
    await handler(UserMessage("你好", output, "u1", metadata={MASKED_METADATA_KEY: []}))
    texts = [message["text"] for message in output.messages]
    assert texts[0].startswith("提醒您：银行和本助手都不会索要完整卡号")
    assert texts[1:] == ["bot reply", "bot reply"]
    assert handled == ["验证码[已隐藏]", "你好"]
