"""Rate limits: a token bucket per connection, a shared per-address handshake budget."""

import asyncio
import time
import weakref
from collections.abc import Callable

import redis.asyncio
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

# A minute's count outlives its minute, so that a clock step between servers cannot reset it.
BUDGET_KEY_SECONDS = 120


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up."""

    # A class attribute so a test can stop the bucket's clock alone: asyncio needs the real one.
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = self.clock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


async def handshake_allowed(address: str, *, per_minute: int) -> bool:
    """Count a handshake from `address`; False past `per_minute` in the current minute.

    Kept in the cache (Redis when scaled out), so the budget holds across server processes.
    With Redis, counted from the event loop: its round trip must not hold the one thread that
    every handshake's database reads go through (realtime/database_hop.py).
    """
    key = f"ws-handshakes:{address}:{int(time.time() // 60)}"
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        # One round trip, where the cache API takes three (add, then incr's exists and incrby).
        # Django stores an int as a plain Redis integer: the count stays the cache's own entry.
        redis_key = backend.make_and_validate_key(key)
        async with _async_redis(backend).pipeline(transaction=False) as pipeline:
            count = (await pipeline.incr(redis_key).expire(redis_key, BUDGET_KEY_SECONDS).execute())[0]
        return count <= per_minute
    # The in-memory cache of the embedded setup: no I/O to wait for.
    cache.add(key, 0, timeout=BUDGET_KEY_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=BUDGET_KEY_SECONDS)
        count = 1
    return count <= per_minute


_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()


def _async_redis(backend: RedisCache) -> redis.asyncio.Redis:
    """An asyncio client for the cache's (first) Redis server, one per event loop and server."""
    clients = _async_clients.setdefault(asyncio.get_running_loop(), {})
    server = backend._servers[0]
    if server not in clients:
        clients[server] = redis.asyncio.Redis.from_url(server)
    return clients[server]
