"""Rate limits: a token bucket per connection, a shared per-address handshake budget."""

import time
from collections.abc import Callable

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


def handshake_allowed(address: str, *, per_minute: int) -> bool:
    """Count a handshake from `address`; False past `per_minute` in the current minute.

    Kept in the cache (Redis when scaled out), so the budget holds across server processes.
    Synchronous: the handshake calls it in the thread hop it makes for the database anyway.
    """
    key = f"ws-handshakes:{address}:{int(time.time() // 60)}"
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        # One round trip, where the cache API takes three (add, then incr's exists and incrby):
        # every handshake waits for it. Django stores an int as a plain Redis integer, so the
        # count stays readable through the cache API.
        redis_key = backend.make_and_validate_key(key)
        pipeline = backend._cache.get_client(redis_key, write=True).pipeline(transaction=False)
        count = pipeline.incr(redis_key).expire(redis_key, BUDGET_KEY_SECONDS).execute()[0]
        return count <= per_minute
    cache.add(key, 0, timeout=BUDGET_KEY_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=BUDGET_KEY_SECONDS)
        count = 1
    return count <= per_minute
