"""Celery's Redis transport with one Redis client per channel, not one per command.

kombu 5.7's redis Channel builds a new `redis.Redis` for every publish and every acknowledgement
or delivery bookkeeping step (`Channel.conn_or_acquire` calls `_create_client` each time). Building
one costs about 0.15 ms of CPU, and a transfer task takes three to four: receipt, ack, and the
refill's publish (measured: 0.39 ms per `send_task`, 0.17 ms of it the client). The client holds
no connection of its own: it takes one from the channel's pool per command and gives it back, so
one client serves every thread ("Redis client instances can safely be shared between threads",
https://redis.readthedocs.io/en/stable/advanced_features.html). Pipelines, which are not
thread-safe, are still made per use. The event loop's asynchronous client is kombu's own.

Selected by celeryconfig.broker_transport; everything else is kombu's redis transport.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool  # a new one after kombu dropped the old (a fork, a lost connection)
        client = self._shared_client
        if client is None or client.connection_pool is not pool:
            # Two threads may both build one here: either is as good as the other.
            client = self._shared_client = super()._create_client()
        return client


class Transport(kombu_redis.Transport):
    Channel = Channel
