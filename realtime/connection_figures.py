"""The realtime part of /api/system/status/: live connections, delivery counters, batcher metrics (staff)."""

from collections import Counter

from realtime.counters import stats
from realtime.hub import live_hubs

COUNTER_KEYS = (
    "total_messages_queued",
    "total_batches_flushed",
    "total_messages_flushed",
    "total_immediate_sends",
    "max_batch_size_reached",
    "interval_flushes",
    "messages_dropped",
    "send_errors",
)


def batcher_counters(batcher) -> Counter:
    """The additive counters of one batcher (not its pending count or efficiency ratio)."""
    metrics = batcher.get_metrics()
    return Counter({key: metrics[key] for key in COUNTER_KEYS})


def connections_of(user, connections: dict) -> int:
    """How many of the deployment's live `connections` (deployment_connections()) are `user`'s."""
    return connections["by_user"].get(user.get_username(), 0)


def realtime_status(connections: dict) -> dict:
    """The deployment's live `connections`, and this process's counters with the metrics of live
    batchers folded in."""
    snapshot = stats.snapshot()
    snapshot["connections"] |= connections
    live = Counter()
    for hub in live_hubs():
        for connection in hub.connections:
            live.update(batcher_counters(connection.batcher))
        snapshot.setdefault("groups", {}).update(hub.group_sizes())
    totals = stats.batcher_totals + live
    sent, batches = totals["total_messages_flushed"], totals["total_batches_flushed"]
    snapshot["batcher"] = {**dict(totals), "batch_efficiency": round(sent / batches, 2) if batches else 0.0}
    return snapshot
