"""RedisStorage against a real redis-server started on a free loopback port."""
from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from selinon_django.storages.redis import Redis, RedisStorage
from tests.unit.storages.test_adapters import check_contract

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if not Path(REDIS_SERVER).exists() and not shutil.which("redis-server"):
        pytest.fail(f"redis-server is required for the Redis storage tests: install it (apt-get install redis-server)"
                    f" so that {REDIS_SERVER} exists")
    binary = REDIS_SERVER if Path(REDIS_SERVER).exists() else str(shutil.which("redis-server"))
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:  # wait for the server to say it is ready (no polling sleeps)
            seen.append(line)
            if "Ready to accept connections" in line:
                break
        else:
            pytest.fail("redis-server exited before accepting connections:\n" + "".join(seen))
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_redis_contract(redis_port: int) -> None:
    check_contract(RedisStorage(host="127.0.0.1", port=redis_port, db=1, charset="utf-8"))


def test_redis_url_configuration_and_json_values(redis_port: int) -> None:
    adapter = Redis(url=f"redis://127.0.0.1:{redis_port}/2", key_prefix="t:")
    adapter.connect()
    key = adapter.store(None, "flow1", "Task1", "i1", {"ü": [1, None]})
    assert key == "t:result:Task1:i1"
    assert adapter.client.get(key) == '{"\\u00fc": [1, null]}'
    assert adapter.retrieve("flow1", "Task1", "i1") == {"ü": [1, None]}
    adapter.disconnect()


def test_redis_connect_fails_early_on_a_closed_port() -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # extra configuration keys go to redis.Redis as they are (here: no reconnect attempts)
    adapter = RedisStorage(host="127.0.0.1", port=free_port(), socket_timeout=2, retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.ConnectionError):
        adapter.connect()
    assert not adapter.is_connected()


def test_redis_unconnected_use_is_explained() -> None:
    with pytest.raises(RuntimeError, match="not connected"):
        RedisStorage().retrieve("f", "T", "i")
