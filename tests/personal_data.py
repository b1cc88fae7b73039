"""Conversations rich in personal data, and a scan of everything stored for any trace of them.

Used by ``test_erasure.py`` and ``test_retention.py``. The scan reflects the
databases (``sqlalchemy.inspect``) and walks Redis (SCAN), so a table, column
or key added later is searched without anyone listing it here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from bot.console.store import ConsoleStore
from bot.domain.cases import Facts
from bot.domain.clock import now
from bot.domain.feedback import rating
from bot.domain.receipts import ReceiptReading
from bot.infra.rate_limits import PER_CONVERSATION
from bot.storage.cases import SQLCaseStore
from bot.storage.database import is_postgres_url
from bot.storage.redis_state import (
    RedisMenuStore,
    RedisNonceStore,
    RedisRateLimiter,
    RedisTurnLedger,
    TurnOutcome,
    async_client,
)
from tests.console.tracker_events import entity, reply, session, user, write_events

Location = Path | str


@dataclass(frozen=True)
class Person:
    """One conversation's facts and words; ``secrets`` are what must vanish with it."""

    openid: str
    bank: str
    last4: str
    amount: float
    merchant: str
    message: str
    note: str
    comment: str
    staff_reply: str

    @property
    def sender_id(self) -> str:
        return f"wechat:{self.openid}"

    @property
    def secrets(self) -> list[str]:
        # Keys hold a hash of the sender id instead of the id: linkable all the same.
        hashed = hashlib.sha256(self.sender_id.encode()).hexdigest()[:32]
        return [
            *(
                self.sender_id,
                self.openid,
                hashed,
                self.bank,
                self.last4,
                f"{self.amount:.2f}",
                self.merchant,
            ),
            *(self.message, self.note, self.comment, self.staff_reply),
        ]


ALICE = Person(
    openid="oAlice0000000000000000000001",
    bank="招商银行",
    last4="4821",
    amount=3456.78,
    merchant="华联超市",
    message="我在华联超市刷卡被扣了两次3456.78元，招商银行尾号4821",
    note="客户来电，说华联超市收银员承认重复刷卡",
    comment="华联超市那边终于退了，谢谢",
    staff_reply="您好，已联系华联超市核实尾号4821的交易",
)
BOB = Person(
    openid="oBob00000000000000000000002",
    bank="中国建设银行",
    last4="7390",
    amount=128.5,
    merchant="永辉超市",
    message="永辉超市多扣了我128.50元，建设银行尾号7390",
    note="永辉超市答应三天内退款",
    comment="永辉超市退款很快",
    staff_reply="您好，永辉超市的退款一般三到五天到账",
)


def tracker_location(case_location: Location, tmp_path: Path) -> Location:
    """Rasa's database: a file of its own on SQLite, the case store's database on PostgreSQL."""
    return case_location if isinstance(case_location, str) else tmp_path / "tracker.db"


def case_location(url: str) -> Location:
    return url if is_postgres_url(url) else Path(url.removeprefix("sqlite:///"))


def seed(
    store: SQLCaseStore, tracker: Location, redis_url: str | None, person: Person, started: datetime
) -> str:
    """A case with every kind of record a conversation can leave; returns its id."""
    sender = person.sender_id
    facts = Facts(bank=person.bank, amount=person.amount, merchant=person.merchant, card_last4=person.last4,
                  txn_date=date(2026, 11, 24), card_type="credit")  # fmt: skip
    case = store.open_case(sender, "wechat", "misswipe", facts)
    store.mark_steps_done(case.case_id, ["contact_merchant"])
    store.request_handoff(sender, "wechat", case.case_id)
    store.add_checklist_link(
        case.case_id, hashlib.sha256(sender.encode()).hexdigest(), now() + timedelta(days=7)
    )
    rated = rating(5)
    assert rated is not None
    store.record_feedback(case.case_id, rated, person.comment, "wechat")
    store.follow_ups.opt_out(sender)
    slip = ReceiptReading(kind="slip", amount=Decimal(str(person.amount)), merchant_name=person.merchant,
                          card_last4=person.last4)  # fmt: skip
    # The picture's bytes name the shop too, so that the scan can tell whether they are gone.
    picture = f"JPEG of a slip from {person.merchant}".encode()
    store.receipts.add(sender, "wechat", slip, picture, numbers_covered=0, case_id=case.case_id)
    console = ConsoleStore(store.db.location)
    console.add_note(case.case_id, person.note, "agent1")
    console.add_tag(case.case_id, "vip", "agent1")
    console.audit("agent1", "staff_replied", sender_id=sender, detail={"text": person.staff_reply})
    said = user(
        person.message, "report_misswipe", 0.97, [entity(person.message, "merchant", person.merchant)]
    )
    answers = [
        *reply("utter_ask_bank", f"好的，{person.merchant}的交易已记下"),
        *reply("staff", person.staff_reply),
    ]
    user_ids = write_events(tracker, sender, [*session(), said, *answers], start=started)
    console.mark_reviewed(sender, "agent1", user_ids[-1], case.case_id)
    console.flag_example(
        sender_id=sender,
        event_id=user_ids[0],
        text=person.message,
        annotated=person.message,
        predicted_intent="report_misswipe",
        confidence=0.97,
        intent="report_misswipe",
        username="agent1",
        case_id=case.case_id,
    )
    if redis_url:
        asyncio.run(_seed_redis(redis_url, person))
    return case.case_id


async def _seed_redis(url: str, person: Person) -> None:
    client = async_client(url)
    try:
        await RedisMenuStore(client, 3600).save(
            person.openid, [f'/inform{{"merchant": "{person.merchant}"}}']
        )
        ledger = RedisTurnLedger(client, 300)
        message_key = str(abs(hash(person.openid)))  # a WeChat MsgId: nothing of the person in it
        assert await ledger.claim(message_key, conversation=person.sender_id)
        await ledger.publish(
            message_key, TurnOutcome((person.staff_reply,), False), conversation=person.sender_id
        )
        await RedisNonceStore(client).remember(
            "1764000000", person.openid[-6:], f"{person.openid}:1764000000", 300
        )
        await RedisRateLimiter(client).allow(PER_CONVERSATION, person.sender_id)
        # The split card number state holds no digit of a card; its key is the conversation's.
        split = f"wushua:split:{hashlib.sha256(person.sender_id.encode()).hexdigest()[:32]}"
        await client.set(split, json.dumps({"open": True}), px=60_000)
    finally:
        await client.close()


# The scan


def _texts(value: Any) -> list[str]:
    """A stored value as text, and JSON text again without \\u escapes (Rasa writes them)."""
    if value is None:
        return []
    text = value.decode("utf-8", "ignore") if isinstance(value, bytes) else str(value)
    found = [text]
    try:
        found.append(json.dumps(json.loads(text), ensure_ascii=False))
    except (ValueError, TypeError):
        pass
    return found


def _pattern(secret: str) -> re.Pattern[str]:
    # Digits and hex letters around a short number are another number (a timestamp's
    # microseconds, a random token), not the secret.
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])")


def _comparable(value: Any) -> Any:
    """PostgreSQL's bytea comes back as a memoryview, which compares by identity: as bytes, by content."""
    return bytes(value) if isinstance(value, memoryview) else value


def database_rows(location: Location) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, found by reflection."""
    url = location if isinstance(location, str) else f"sqlite:///{location}"
    engine = sa.create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            names = sa.inspect(connection).get_table_names()
            return {
                name: [
                    tuple(map(_comparable, row))
                    for row in connection.execute(sa.text(f'SELECT * FROM "{name}"'))
                ]
                for name in names
            }
    finally:
        engine.dispose()


def redis_contents(url: str) -> dict[str, Any]:
    """Every key with its value, read by its type."""
    client = redis.Redis.from_url(url, decode_responses=True)
    readers = {"string": client.get, "list": lambda key: client.lrange(key, 0, -1),
               "set": client.smembers, "zset": lambda key: client.zrange(key, 0, -1, withscores=True),
               "hash": client.hgetall, "stream": lambda key: client.xrange(key)}  # fmt: skip
    try:
        return {key: readers[client.type(key)](key) for key in client.scan_iter(count=1000)}
    finally:
        client.close()


def traces(person: Person, *places: dict[str, Any]) -> list[str]:
    """Where any of the person's secrets is found: ``table: value`` or ``redis key``."""
    found = []
    patterns = [_pattern(secret) for secret in person.secrets]
    for place in places:
        for name, content in place.items():
            for text in [name, *_flatten(content)]:
                found.extend(f"{name}: {text[:120]}" for pattern in patterns if pattern.search(text))
    return found


def _flatten(content: Any) -> list[str]:
    if isinstance(content, dict):
        return [text for key, value in content.items() for text in [*_texts(key), *_flatten(value)]]
    if isinstance(content, list | tuple | set):
        return [text for item in content for text in _flatten(item)]
    return _texts(content)
