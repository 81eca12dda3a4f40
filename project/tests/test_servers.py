"""The test servers are real: real clients talk to them, and stop() leaves no process behind."""

import json
import os

import psycopg
import pytest
import redis

from project.testing.servers import http_get


@pytest.mark.redis
@pytest.mark.parametrize("key", ["first", "second"])
def test_each_test_gets_an_empty_redis_that_answers_set_and_get(fresh_redis_url, key):
    client = redis.Redis.from_url(fresh_redis_url)
    assert client.ping()
    assert client.dbsize() == 0
    client.set(key, "value")
    assert client.get(key) == b"value"
    client.close()


@pytest.mark.postgres
def test_postgres_answers_a_real_query(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("SELECT version()").fetchone()[0]
    assert version.startswith("PostgreSQL")


@pytest.mark.e2e
def test_embedded_daphne_is_live_and_ready(daphne_server):
    assert http_get(f"{daphne_server.base_url}/healthz")[0] == 200
    status, body = http_get(f"{daphne_server.base_url}/readyz")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "channel_layer": "ok"}


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.postgres
def test_daphne_on_real_redis_and_postgres_is_ready(start_daphne, redis_url, postgres_url):
    client = redis.Redis.from_url(redis_url)
    connections_before = client.info("stats")["total_connections_received"]
    server = start_daphne({"REDIS_URL": redis_url, "DATABASE_URL": postgres_url})
    status, body = http_get(f"{server.base_url}/readyz")
    assert status == 200, body
    # The channel-layer check went through this Redis, not a silent in-memory fallback.
    assert client.info("stats")["total_connections_received"] > connections_before
    client.close()


@pytest.mark.e2e
def test_manage_runs_against_the_servers_database(daphne_server):
    done = daphne_server.manage("showmigrations", "--plan")
    assert "[X]  contenttypes.0001_initial" in done.stdout


@pytest.mark.e2e
def test_stopped_server_leaves_no_process(start_daphne):
    server = start_daphne()
    pid = server.pid
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
