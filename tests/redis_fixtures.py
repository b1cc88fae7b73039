"""A real Redis for the tests of shared state (``scripts/redis_service.py`` on a free port).

A test module that needs them says ``pytest_plugins = ["tests.redis_fixtures"]``:
the fixtures are then registered once, so every module shares one server. Outside CI a
missing ``redis-server`` skips the tests that need it; under ``CI=true`` it
fails them, since CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from server_env import free_port

from scripts.redis_service import RedisNotInstalled, RedisService


def start_redis(data_dir: Path) -> RedisService:
    """A started server; skips (or fails under CI) when redis-server is not installed."""
    try:
        service = RedisService(data_dir, free_port())
    except RedisNotInstalled as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    service.start()
    return service


@pytest.fixture(scope="session")
def redis_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisService]:
    service = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def redis_url(redis_service: RedisService) -> str:
    """The shared server's URL, emptied before each test."""
    with redis.Redis.from_url(redis_service.url) as client:
        client.flushdb()
    return redis_service.url


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisService]:
    """A server of the test's own, which it may stop to see what an outage does."""
    service = start_redis(tmp_path / "redis")
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def unreachable_redis_url() -> str:
    """A URL where nothing listens: connections are refused at once."""
    return f"redis://127.0.0.1:{free_port()}/0"
