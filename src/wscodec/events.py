"""Events a :class:`wscodec.connection.Connection` returns from ``receive_data`` and friends.

Plain named tuples: one small allocation per event, no futures.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple, Union

__all__ = ["Message", "Fragment", "Ping", "Pong", "CloseReceived", "Closed", "Event"]


class Message(NamedTuple):
    """A complete data message: ``str`` for text, ``bytes`` for binary."""

    data: Union[str, bytes]


class Fragment(NamedTuple):
    """One frame of a message that arrived in several frames, when the connection delivers
    fragments (``Connection(deliver_fragments=True)``): ``str`` for text (decoded incrementally,
    so a piece may be "" when its frame ends inside a character), ``bytes`` for binary; ``fin``
    is True on the message's last piece. A message sent in one frame stays a :class:`Message`."""

    data: Union[str, bytes]
    fin: bool


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


Event = Union[Message, Fragment, Ping, Pong, CloseReceived, Closed]
