"""This process's realtime counters (connections live here; published totals are summed per instance)."""

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RealtimeStats:
    """Counters of one process; reset only by a restart."""

    published: int = 0
    publish_failures: int = 0
    frames_sent: int = 0
    slow_clients_closed: int = 0
    connections: Counter = field(default_factory=Counter)  # endpoint → live connections
    users: Counter = field(default_factory=Counter)  # username → live connections
    total_connections: int = 0
    batcher_totals: Counter = field(default_factory=Counter)
    hub_failures: Counter = field(default_factory=Counter)  # hub loop (receive, heartbeat, …) → failed runs
    hub_rejoins: int = 0  # re-joins of every group after the channel layer failed (a Redis restart)
    messages_lost: int = 0  # durable messages the channel layer dropped on the way to this process's hubs
    resume_hints_sent: int = 0  # resume.hint frames sent to clients because of those losses
    ephemeral_messages_lost: int = 0  # un-sequenced ones (system, enrichment, notices): not replayable
    reload_hints_sent: int = 0  # reload.hint frames sent to clients because of those losses

    def snapshot(self) -> dict:
        """A JSON-ready copy."""
        return {
            "published": self.published,
            "publish_failures": self.publish_failures,
            "frames_sent": self.frames_sent,
            "slow_clients_closed": self.slow_clients_closed,
            "connections": {
                "total": sum(self.connections.values()),
                "by_endpoint": dict(self.connections),
                "by_user": dict(self.users),
                "opened_since_start": self.total_connections,
            },
            "hub": {
                "failures": dict(self.hub_failures),
                "rejoins": self.hub_rejoins,
                "messages_lost": self.messages_lost,
                "resume_hints_sent": self.resume_hints_sent,
                "ephemeral_messages_lost": self.ephemeral_messages_lost,
                "reload_hints_sent": self.reload_hints_sent,
            },
        }


stats = RealtimeStats()
