"""The realtime part of /api/system/status/: live connections, delivery counters, batcher metrics."""

from collections import Counter

from realtime.hub import live_hubs
from realtime.stats import stats


def realtime_status() -> dict:
    """This process's live connections and counters, with the metrics of live batchers folded in."""
    snapshot = stats.snapshot()
    live = Counter()
    for hub in live_hubs():
        for connection in hub.connections:
            for key, value in connection.batcher.get_metrics().items():
                if isinstance(value, int):
                    live[key] += value
        snapshot.setdefault("groups", {}).update(hub.group_sizes())
    totals = stats.batcher_totals + live
    sent, batches = totals["messages_sent"], totals["batches_sent"]
    snapshot["batcher"] = {**dict(totals), "batch_efficiency": round(sent / batches, 2) if batches else 0.0}
    return snapshot
