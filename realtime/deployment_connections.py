"""This deployment's live WebSocket connections, summed over its instances.

Connections are counted per process (realtime.counters); behind a load balancer the status must
not show whichever instance answered. So with REDIS_URL each process that serves sockets
publishes its counts to the channel layer's Redis under a key of its own that expires
REALTIME_INSTANCE_EXPIRY_SECONDS after its last refresh (an instance that dies drops out then),
and the status sums every live instance's. On the embedded default the one process is the
deployment and nothing is published.

Publishing never runs on the event loop: the hub hands the figures to one thread of this module
(see `connection_figures_share`), so a slow or unreachable Redis can delay fresher figures, never
a handshake or a frame.
"""

import asyncio
import functools
import json
import logging
import os
import socket
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import redis
from django.conf import settings

from realtime.counters import stats
from realtime.refusals import OUTAGE_ERRORS, outage

logger = logging.getLogger(__name__)

INSTANCE_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
# A live instance refreshes its figures this many times within their expiry: one or two refreshes
# lost to a hiccup never drop it from the sums.
REFRESHES_PER_EXPIRY = 3
# At most one publish per this many seconds: a burst of handshakes costs one write, not one each.
PUBLISH_PACE_SECONDS = 1.0
# Bounds every Redis call of this module: a Redis that stopped answering costs this, not a hang.
REDIS_TIMEOUT_SECONDS = 2.0

# One thread: publishes land in the order their figures were taken, so the last one written is the
# latest; and a slow Redis holds this thread only — not the event loop, and not the
# thread-sensitive executor that the consumers' database calls queue on.
_publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookout-connection-figures")


def figures_shared() -> bool:
    """Whether this deployment may have other instances (REDIS_URL is set) to publish figures to."""
    return bool(settings.REDIS_URL)


def refresh_seconds() -> float:
    """How often a live instance refreshes its published figures."""
    return settings.REALTIME_INSTANCE_EXPIRY_SECONDS / REFRESHES_PER_EXPIRY


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )


def _keys() -> tuple[str, str]:
    prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "lookout")
    # The index of the instances that published (scored by when their figures expire), and the
    # pattern of each one's figures.
    return f"{prefix}:connections:instances", f"{prefix}:connections:instance:{{}}"


def local_figures() -> dict:
    """This process's live connections by endpoint and by user."""
    return {"by_endpoint": dict(stats.connections), "by_user": dict(stats.users)}


def connection_figures_publish(figures: dict, redis_url: str) -> None:
    """Write this instance's `figures` for the deployment-wide sums (none: withdraw them)."""
    index, instance_key = _keys()
    key = instance_key.format(INSTANCE_ID)
    expiry = settings.REALTIME_INSTANCE_EXPIRY_SECONDS
    now = time.time()
    with _client(redis_url).pipeline() as pipe:
        if figures["by_endpoint"]:
            pipe.set(key, json.dumps(figures), px=int(expiry * 1000))
            pipe.zadd(index, {INSTANCE_ID: now + expiry})
        else:
            pipe.delete(key)
            pipe.zrem(index, INSTANCE_ID)
        # Readers skip an instance whose figures expired; its index entry goes here, an expiry
        # late so that a publisher whose clock runs behind never drops a live one.
        pipe.zremrangebyscore(index, "-inf", now - expiry)
        pipe.execute()


def _published_by_others() -> list[dict]:
    index, instance_key = _keys()
    client = _client(settings.REDIS_URL)
    others = [member.decode() for member in client.zrange(index, 0, -1)]
    others = [instance for instance in others if instance != INSTANCE_ID]
    if not others:
        return []
    values = client.mget([instance_key.format(instance) for instance in others])
    return [json.loads(value) for value in values if value is not None]


def deployment_connections() -> dict:
    """Live connections summed over every instance: total, by endpoint, by user, and how many instances.

    This process's own counts are read live; the others' are as fresh as their last publish
    (PUBLISH_PACE_SECONDS after a change). Without Redis, `instances` is null and the figures are
    this instance's alone.
    """
    published: list[dict] = []
    instances: int | None = 1
    if figures_shared():
        try:
            published = _published_by_others()
        except OUTAGE_ERRORS as error:
            logger.warning("the other instances' connection figures are unknown: %s", outage(error))
            instances = None
        else:
            instances += len(published)
    by_endpoint, by_user = Counter(), Counter()
    for figures in [local_figures(), *published]:
        by_endpoint.update(figures["by_endpoint"])
        by_user.update(figures["by_user"])
    return {
        "total": sum(by_endpoint.values()),
        "by_endpoint": dict(+by_endpoint),
        "by_user": dict(+by_user),
        "instances": instances,
    }


def _publish_soon() -> Future:
    # The figures are taken now, on the event loop that changes them; the thread only writes.
    return _publisher.submit(connection_figures_publish, local_figures(), settings.REDIS_URL)


async def connection_figures_share() -> None:
    """Publish this process's figures from the publisher thread (raises what the write raised)."""
    await asyncio.wrap_future(_publish_soon())


def connection_figures_share_later() -> None:
    """Publish this process's figures without waiting for the write: for a hub that is stopping."""
    _publish_soon().add_done_callback(_log_failure)


def _log_failure(done: Future) -> None:
    error = done.exception()
    if error is None:
        return
    if isinstance(error, OUTAGE_ERRORS):
        logger.warning("publishing the connection figures failed: %s", outage(error))
    else:
        logger.error("publishing the connection figures failed", exc_info=error)
