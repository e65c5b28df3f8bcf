"""Errors of the bus port, raised alike by every adapter."""

from __future__ import annotations


class BusError(RuntimeError):
    """Base of the bus errors."""


class BusUnavailable(BusError):
    """The bus did not acknowledge in time. Callers answer 503 or retry; never drop."""


class BusFull(BusUnavailable):
    """The in-process bus holds its maximum of bytes that some group has not committed
    yet: nothing was stored; retry once the consumers have caught up."""


class RecordTooLarge(BusError, ValueError):
    """A record is over the bus's message size limit: retrying will not help."""


class UnknownTopic(BusError, LookupError):
    """The topic does not exist (EXOS creates its topics explicitly)."""


class CommitFailed(BusError):
    """An offset commit was refused, e.g. the partition was revoked meanwhile."""


class MembershipLost(CommitFailed):
    """The consumer is no longer the group member that owns the partitions it read (it
    was expelled, or the group is rebalancing): what it holds was not committed, and the
    next owner processes those records. Go on after the group gave partitions again."""
