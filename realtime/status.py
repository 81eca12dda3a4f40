"""The realtime part of /api/system/status/: live connections, delivery counters, batcher metrics (staff)."""

from collections import Counter

from realtime.hub import live_hubs
from realtime.stats import stats

COUNTER_KEYS = (
    "messages_queued",
    "messages_sent",
    "batched_messages_sent",
    "batches_sent",
    "immediate_sends",
    "send_errors",
    "messages_dropped",
)


def batcher_counters(batcher) -> Counter:
    """The additive counters of one batcher (not its pending count or efficiency ratio)."""
    metrics = batcher.get_metrics()
    return Counter({key: metrics[key] for key in COUNTER_KEYS})


def connections_of(user) -> int:
    """How many live WebSocket connections `user` has on this process."""
    return stats.users[user.get_username()]


def realtime_status() -> dict:
    """This process's live connections and counters, with the metrics of live batchers folded in."""
    snapshot = stats.snapshot()
    live = Counter()
    for hub in live_hubs():
        for connection in hub.connections:
            live.update(batcher_counters(connection.batcher))
        snapshot.setdefault("groups", {}).update(hub.group_sizes())
    totals = stats.batcher_totals + live
    sent, batches = totals["batched_messages_sent"], totals["batches_sent"]
    snapshot["batcher"] = {**dict(totals), "batch_efficiency": round(sent / batches, 2) if batches else 0.0}
    return snapshot
