"""Events a :class:`wscodec.connection.Connection` returns from ``receive_data`` and friends.

Plain named tuples: one small allocation per event, no futures.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple, Union

__all__ = ["Message", "Ping", "Pong", "CloseReceived", "Closed", "Event"]


class Message(NamedTuple):
    """A complete data message: ``str`` for text, ``bytes`` for binary."""

    data: Union[str, bytes]


class Ping(NamedTuple):
    """A ping was received (the pong is already queued in ``data_to_send``, unless closing)."""

    payload: bytes


class Pong(NamedTuple):
    """A pong was received. ``acked`` lists (payload, rtt) of the pings it answers: the matching
    one and every earlier outstanding ping (a pong implies the peer saw those). ``rtt`` is the
    matching ping's round-trip time, None for an unsolicited pong."""

    payload: bytes
    rtt: Optional[float]
    acked: Tuple[Tuple[bytes, float], ...]


class CloseReceived(NamedTuple):
    """The peer's close frame (code 1005 when it had none). No message follows."""

    code: int
    reason: str


class Closed(NamedTuple):
    """The connection is over (always the last event): final code, reason, cleanliness and who
    started the closing ("local" or "remote")."""

    code: int
    reason: str
    was_clean: bool
    closed_by: str


Event = Union[Message, Ping, Pong, CloseReceived, Closed]
