"""The Celery transport (nue_ns/broker.py): one Redis client per channel, rebuilt with its pool,
and messages published, delivered and acknowledged through it as with kombu's own."""

from __future__ import annotations

import pytest
from kombu import Connection


def test_one_client_per_channel_until_kombu_replaces_its_pool(redis_url):
    with Connection(redis_url, transport="nue_ns.broker:Transport") as conn:
        channel = conn.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        assert channel._create_client(asynchronous=True) is not first  # the event loop's: kombu's
        channel._disconnect_pools()  # as after a fork or a lost connection
        fresh = channel._create_client()
        assert fresh is not first and fresh.connection_pool is channel.pool


def test_messages_go_round_through_it(redis_url):
    with Connection(redis_url, transport="nue_ns.broker:Transport") as conn:
        queue = conn.SimpleQueue("nue_ns.test.broker")
        try:
            for n in range(3):
                queue.put({"record": n})
            got = []
            for _ in range(3):
                message = queue.get(timeout=5)
                got.append(message.payload["record"])
                message.ack()
            assert sorted(got) == [0, 1, 2]
            with pytest.raises(queue.Empty):  # each delivered once
                queue.get(timeout=0.5)
        finally:
            queue.close()
