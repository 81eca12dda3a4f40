"""Noticing messages that the channel layer lost on the way to this process's hub.

Both channel layers drop messages without a word: a group send skips a member channel that is
at `capacity` (channels-redis only logs it at INFO), and a message older than `expiry` is
discarded (channels-redis: by the next send to that channel, or with the whole key when it
expires). Durable messages are numbered, so the hub notices holes in the sequences it receives.
Sequences are global, so a hole is a loss only if the outbox holds a message in it that one of
this hub's groups should have brought and that did not arrive; the hub asks the outbox after a
grace period, in which a message delivered late (another server process sent it a little after
a higher one) still fills its place.

Ephemeral messages and notices carry no sequence and are kept nowhere; the broadcaster numbers
them per sending process and group instead (`StreamGaps`), so that their loss is noticed too.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Hole:
    """Sequences `first`…`last` (inclusive) not received, noticed at `noticed_at` (monotonic seconds)."""

    first: int
    last: int
    noticed_at: float

    def __contains__(self, sequence: int) -> bool:
        return self.first <= sequence <= self.last


class SequenceGaps:
    """Which durable sequences one hub has not received, from the first it saw on."""

    def __init__(self) -> None:
        # The highest sequence received (or settled at the tail, see expect_through).
        self.horizon: int | None = None
        self.holes: list[Hole] = []
        # Sequences that arrived inside a hole after it was opened.
        self.late: set[int] = set()
        # After the horizon, up to the outbox's newest sequence: lost only if nothing arrives.
        self.tail: Hole | None = None

    def received(self, sequence: int, now: float) -> bool:
        """Note a received durable sequence; True when it opened a hole."""
        self.tail = None  # the hub is receiving: a loss at the end will show as a hole, or at the next look
        horizon = self.horizon
        if horizon is None or sequence == horizon + 1:
            self.horizon = sequence
            return False
        if sequence > horizon:
            self.holes.append(Hole(horizon + 1, sequence - 1, now))
            self.horizon = sequence
            return True
        if any(sequence in hole for hole in self.holes):
            self.late.add(sequence)
        return False

    def expect_through(self, last_sequence: int, now: float) -> bool:
        """Note the outbox's newest sequence; True when sequences after the horizon await checking.

        A loss at the end of a burst leaves no higher sequence behind it to open a hole. So the
        sequences up to the outbox's newest become the tail: lost if they were ours and nothing at
        all arrives during the grace period (while messages arrive, the hub may just be behind).
        """
        if self.horizon is None:
            self.horizon = last_sequence
            return False
        if last_sequence <= self.horizon or self.tail is not None:
            return False
        self.tail = Hole(self.horizon + 1, last_sequence, now)
        return True

    @property
    def pending(self) -> bool:
        """Whether anything awaits checking."""
        return bool(self.holes) or self.tail is not None

    def due(self, noticed_before: float) -> list[Hole]:
        """The holes (and the tail) whose grace period is over."""
        due = [hole for hole in self.holes if hole.noticed_at <= noticed_before]
        if self.tail is not None and self.tail.noticed_at <= noticed_before:
            due.append(self.tail)
        return due

    def missing(self, holes: list[Hole], sequences: list[int]) -> list[int]:
        """Of `sequences` (outbox rows meant for this hub), those inside `holes` that never arrived.

        A tail that an arrival cancelled meanwhile (the hub was behind, not losing) counts for nothing.
        """
        still_open = [hole for hole in holes if hole in self.holes or hole == self.tail]
        return [s for s in sequences if s not in self.late and any(s in hole for hole in still_open)]

    def settle(self, holes: list[Hole]) -> None:
        """Forget checked holes and what arrived late in them; a checked tail moves the horizon past it."""
        if self.tail is not None and self.tail in holes:
            self.horizon, self.tail = self.tail.last, None
        self.holes = [hole for hole in self.holes if hole not in holes]
        self.late = {s for s in self.late if any(s in hole for hole in self.holes)}


@dataclass(frozen=True)
class StreamHole:
    """Un-sequenced messages `first`…`last` (inclusive) of one sender to `group`, not received."""

    group: str
    sender: str
    first: int
    last: int
    noticed_at: float

    def overlap(self, before: int, after: int) -> int:
        """How many of the messages numbered `before`+1…`after` fall inside this hole."""
        return max(0, min(after, self.last) - max(before + 1, self.first) + 1)


# Senders remembered per group: an old one (a process that restarted) is forgotten first. Its
# next message, if it comes, only starts counting again.
MAX_SENDERS_PER_GROUP = 1000


class StreamGaps:
    """Which un-sequenced messages (ephemeral channels, notices) one hub has not received.

    They have no outbox to check against, so the broadcaster numbers them: per process (a random
    sender id) and group it counts them, and each layer message carries `transport`: the sender
    and the count before and after it (equal when it holds only durable messages). A message
    whose `before` is not the last `after` received from its sender on its group opened a hole,
    unless the hub has not heard that sender on that group yet (the sender restarted, or the
    hub joined the group meanwhile): then it starts counting there. Two threads of one sender
    can hand their messages to the layer out of order, so a hole is a loss only if it is still
    there after the grace period.
    """

    def __init__(self) -> None:
        # Group (joined by this hub) → sender → the last number received.
        self.last: dict[str, dict[str, int]] = {}
        self.holes: list[StreamHole] = []
        # Hole → how many of its messages arrived late.
        self.late: dict[StreamHole, int] = {}

    def join(self, group: str) -> None:
        """Count the group's messages from its next one on."""
        self.last[group] = {}

    def leave(self, group: str) -> None:
        """Forget the group's senders: what arrives for it now is nobody's."""
        self.last.pop(group, None)

    def received(self, message: dict, now: float) -> bool:
        """Note a layer message's transport number; True when it opened a hole."""
        senders = self.last.get(message.get("group"))
        transport = message.get("transport")
        if senders is None or transport is None:
            return False
        sender, before, after = transport
        last = senders.get(sender)
        if last == before:
            senders[sender] = after
            return False
        return self._out_of_order(message["group"], senders, sender, last, before, after, now)

    def _out_of_order(
        self,
        group: str,
        senders: dict[str, int],
        sender: str,
        last: int | None,
        before: int,
        after: int,
        now: float,
    ) -> bool:
        if last is None:
            if len(senders) >= MAX_SENDERS_PER_GROUP:
                del senders[next(iter(senders))]
            senders[sender] = after
            return False
        if before > last:
            self.holes.append(StreamHole(group, sender, last + 1, before, now))
            senders[sender] = after
            return True
        # Handed to the layer before the message that arrived first: it fills a hole, if it opened one.
        for hole in self.holes:
            if hole.group == group and hole.sender == sender and (count := hole.overlap(before, after)):
                self.late[hole] = self.late.get(hole, 0) + count
        return False

    @property
    def pending(self) -> bool:
        """Whether anything awaits checking."""
        return bool(self.holes)

    def lost(self, noticed_before: float) -> dict[str, int]:
        """Group → messages missing from the holes whose grace period is over; those holes are forgotten."""
        lost: dict[str, int] = {}
        due = [hole for hole in self.holes if hole.noticed_at <= noticed_before]
        for hole in due:
            missing = hole.last - hole.first + 1 - self.late.pop(hole, 0)
            if missing > 0:
                lost[hole.group] = lost.get(hole.group, 0) + missing
        self.holes = [hole for hole in self.holes if hole.noticed_at > noticed_before]
        return lost
