"""Settings of the naive baseline (bench/naive.py): Channels on channels-redis, nothing else.

No database, no sessions, no auth: the baseline is the broadcast pattern alone, so every cost it
shows is the pattern's, not Lookout's handshake work.
"""

import os

SECRET_KEY = "bench-naive-baseline-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES = {}
# The one group every socket joins and the publisher sends to.
GROUP = "bench"
ASGI_APPLICATION = "bench.naive.application"
USE_TZ = True
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels-redis's defaults (capacity 100 per channel, expiry 60 s): the tutorial's setup.
        "CONFIG": {"hosts": [os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")]},
    }
}
