"""Two sans-I/O Connections (client and server) joined by a simulated TCP connection, driven by a
hypothesis state machine: random sends (text, binary, ``fragment_size``, ``send_fragment``),
pings, closes from either side or both at once, bytes delivered in random chunks and turns,
timers fired at ``next_deadline()``, and the transport closed as ``should_close_transport`` asks
(EOF to the peer once it has read everything before it).

Invariants: each side receives exactly the messages the other completed while it still accepted
data (everything whose last byte it read before sending its own close), intact and in order, also
reassembled from Fragment events; both end CLOSED; each side's close code and reason are the ones
its peer sent (so both agree unless the closes crossed with different codes), 1006 when no close
arrived; ``was_clean`` is whether both close frames were exchanged; nothing raises except the
documented ConnectionClosed (send after close) and RuntimeError (send during send_fragment).
Runs per backend, without permessage-deflate and with both context-takeover settings.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from wscodec.connection import Connection, State
from wscodec.deflate import DeflateOptions
from wscodec.errors import ConnectionClosed
from wscodec.events import Closed, CloseReceived, Fragment, Message, Ping, Pong

from .deflate_helpers import negotiate

DEFLATE = {
    "plain": None,
    "takeover": (DeflateOptions(threshold=16), DeflateOptions(threshold=16)),
    "no-takeover": (
        DeflateOptions(server_no_context_takeover=True, client_no_context_takeover=True, server_max_window_bits=9),
        DeflateOptions(client_no_context_takeover=True, client_max_window_bits=10, threshold=0),
    ),
}
SIDES = ("client", "server")
CLOSE_TIMEOUT = 5.0

texts = st.text(max_size=40)  # any code point but surrogates: non-ASCII and 4-byte sequences too
binaries = st.binary(max_size=300)
messages = st.one_of(texts, binaries, st.builds(lambda t, n: t * n, texts, st.integers(1, 200)))
buffers = st.sampled_from([bytes, bytearray, memoryview])
close_args = st.one_of(
    st.just((None, "")),
    st.tuples(st.sampled_from([1000, 1001, 1011, 3000, 4999]), st.text(max_size=20)),
)


class Pipe:
    """One direction of the TCP connection: bytes written and not yet read, then maybe EOF."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.written = 0  # total bytes ever written: message ends are offsets in this stream
        self.read = 0
        self.eof = False  # the writer closed its transport (after its last write)
        self.eof_seen = False

    def write(self, data: bytes) -> None:
        if data and not self.eof:
            self.buf += data
            self.written += len(data)


class Side:
    """A Connection plus what the test knows about it."""

    def __init__(self, conn: Connection, out: Pipe, inp: Pipe) -> None:
        self.conn = conn
        self.out, self.inp = out, inp
        self.sent: List[Tuple[Any, int]] = []  # (message, end offset in out) in order
        self.received: List[Any] = []  # completed messages
        self.parts: List[Any] = []  # Fragment data of the message in progress
        self.accepted = 0  # bytes of inp read while this side still accepted data
        self.stream: Optional[List[Any]] = None  # the pieces of a send_fragment message
        self.transport_closed = False
        self.paused = False  # writes paused: a lone pending pong is left in the connection
        self.closed_events: List[Closed] = []
        self.close_frames_received: List[Tuple[int, str]] = []


class ConnectionPair(RuleBasedStateMachine):
    backend: Any = None
    deflate: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.sides: Dict[str, Side] = {}

    @initialize(
        fragments=st.tuples(st.booleans(), st.booleans()),
        heartbeat=st.sampled_from([None, 1.0, 3.0]),
        idle=st.sampled_from([None, 4.0]),
    )
    def setup(self, fragments: Tuple[bool, bool], heartbeat: Optional[float], idle: Optional[float]) -> None:
        codecs = negotiate(*self.deflate) if self.deflate is not None else (None, None)
        c2s, s2c = Pipe(), Pipe()
        for role, pm, deliver, out, inp in zip(SIDES, codecs, fragments, (c2s, s2c), (s2c, c2s)):
            conn = Connection(
                role,
                codec=self.backend,
                deflate=pm,
                deliver_fragments=deliver,
                close_timeout=CLOSE_TIMEOUT,
                ping_interval=heartbeat,
                ping_timeout=heartbeat and 2 * heartbeat,
                idle_timeout=idle,
                max_message_size=None,
            )
            self.sides[role] = Side(conn, out, inp)

    def peer(self, role: str) -> Side:
        return self.sides["server" if role == "client" else "client"]

    # ------------------------------------------------------------ plumbing
    def flush(self, side: Side) -> None:
        if side.paused and not side.conn.output_pending:
            return  # RFC 6455 5.5.3: the connection keeps only the latest pong meanwhile
        data = side.conn.data_to_send()
        assert type(data) is bytes
        if not side.transport_closed:
            side.out.write(data)

    def handle(self, side: Side, events: List[Any]) -> None:
        for event in events:
            if isinstance(event, Message):
                assert not side.parts
                side.received.append(event.data)
            elif isinstance(event, Fragment):
                assert side.conn._assembler.fragments
                side.parts.append(event.data)
                if event.fin:
                    side.received.append(side.parts[0][:0].join(side.parts))
                    side.parts = []
            elif isinstance(event, CloseReceived):
                side.close_frames_received.append((event.code, event.reason))
                side.parts = []  # a message cut by the close is dropped
            elif isinstance(event, Closed):
                side.closed_events.append(event)
            else:
                assert isinstance(event, (Ping, Pong)), event
        self.flush(side)
        self.check_transport(side)

    def check_transport(self, side: Side) -> None:
        """The I/O layer closes the transport when asked: flush (unless aborting), EOF to the peer,
        and the connection learns that its transport is gone."""
        conn = side.conn
        if side.transport_closed or not conn.should_close_transport:
            return
        if not conn.transport_abort:
            side.out.write(conn.data_to_send())
        side.transport_closed = True
        side.out.eof = True
        side.inp.buf.clear()  # nothing more is read
        self.handle(side, conn.receive_eof(now=self.now))
        assert conn.state is State.CLOSED

    def accepting(self, side: Side) -> bool:
        conn = side.conn
        return conn.state is State.OPEN and conn.close_sent is None and conn.close_received is None

    def deliver_to(self, side: Side, n: int, kind: Any) -> None:
        pipe = side.inp
        if side.transport_closed:
            return
        if pipe.buf:
            chunk = bytes(pipe.buf[:n])
            del pipe.buf[:n]
            accepting = self.accepting(side)
            events = side.conn.receive_data(kind(chunk), now=self.now)
            pipe.read += len(chunk)
            if accepting:
                side.accepted = pipe.read
            self.handle(side, events)
        elif pipe.eof and not pipe.eof_seen:
            pipe.eof_seen = True
            self.handle(side, side.conn.receive_eof(now=self.now))

    # ------------------------------------------------------------ rules
    @rule(role=st.sampled_from(SIDES), data=messages, fragment_size=st.none() | st.integers(1, 64), kind=buffers)
    def send(self, role: str, data: Any, fragment_size: Optional[int], kind: Any) -> None:
        side = self.sides[role]
        payload = data if isinstance(data, str) else kind(data)
        if side.conn.state is not State.OPEN:
            with pytest.raises(ConnectionClosed):
                side.conn.send(payload, now=self.now, fragment_size=fragment_size)
            return
        if side.stream is not None:
            with pytest.raises(RuntimeError):
                side.conn.send(payload, now=self.now, fragment_size=fragment_size)
            return
        side.conn.send(payload, now=self.now, fragment_size=fragment_size)
        self.flush(side)
        side.sent.append((data, side.out.written))

    @rule(role=st.sampled_from(SIDES), text=st.booleans(), piece=messages, fin=st.booleans())
    def send_fragment(self, role: str, text: bool, piece: Any, fin: bool) -> None:
        side = self.sides[role]
        if side.stream:  # the message's kind is set by its first piece
            text = isinstance(side.stream[0], str)
        piece = (piece if isinstance(piece, str) else piece.decode("latin-1")) if text else (
            piece if isinstance(piece, bytes) else piece.encode()
        )
        if side.conn.state is not State.OPEN:
            with pytest.raises(ConnectionClosed):
                side.conn.send_fragment(piece, now=self.now, fin=fin)
            return
        side.conn.send_fragment(piece, now=self.now, fin=fin)
        self.flush(side)
        side.stream = (side.stream or []) + [piece]
        if fin:
            side.sent.append((piece[:0].join(side.stream), side.out.written))
            side.stream = None

    @rule(role=st.sampled_from(SIDES), payload=st.none() | st.binary(max_size=125))
    def ping(self, role: str, payload: Optional[bytes]) -> None:
        conn = self.sides[role].conn
        if conn.state is not State.OPEN:
            with pytest.raises(ConnectionClosed):
                conn.ping(payload, now=self.now)
            return
        if payload is not None and payload in conn.pings:
            with pytest.raises(ValueError):
                conn.ping(payload, now=self.now)
            return
        conn.ping(payload, now=self.now)
        self.flush(self.sides[role])

    @rule(role=st.sampled_from(SIDES), args=close_args)
    def close(self, role: str, args: Tuple[Optional[int], str]) -> None:
        side = self.sides[role]
        side.conn.close(*args, now=self.now)  # a no-op once closing
        if side.stream is not None and side.conn.state is not State.OPEN:
            side.stream = None  # abandoned
        self.handle(side, [])

    @rule(client=close_args, server=close_args)
    def close_both(self, client: Tuple[Optional[int], str], server: Tuple[Optional[int], str]) -> None:
        """Both close before either close frame arrives (the closes cross)."""
        self.close("client", client)
        self.close("server", server)

    @rule(role=st.sampled_from(SIDES), n=st.integers(1, 400), kind=buffers)
    def deliver(self, role: str, n: int, kind: Any) -> None:
        self.deliver_to(self.sides[role], n, kind)

    @rule(role=st.sampled_from(SIDES), paused=st.booleans())
    def pause_writes(self, role: str, paused: bool) -> None:
        side = self.sides[role]
        side.paused = side.conn.coalesce_pongs = paused
        pending = side.conn.pong_pending
        self.flush(side)
        assert side.conn.pong_pending == (pending and paused)

    @rule(role=st.sampled_from(SIDES))
    def deliver_all(self, role: str) -> None:
        self.deliver_to(self.sides[role], 1 << 30, bytes)

    @rule()
    def timers(self) -> None:
        deadlines = [s.conn.next_deadline() for s in self.sides.values()]
        due = [d for d in deadlines if d is not None]
        if not due:
            return
        self.now = max(self.now, min(due))
        for side in self.sides.values():
            self.handle(side, side.conn.handle_timeout(self.now))

    # ------------------------------------------------------------ invariants
    @invariant()
    def received_in_order(self) -> None:
        for role, side in self.sides.items():
            sent = [m for m, _ in self.peer(role).sent]
            assert side.received == sent[: len(side.received)]

    def teardown(self) -> None:
        if not self.sides:
            return
        self.finish()
        for role, side in self.sides.items():
            self.check_end(side, self.peer(role))

    def finish(self) -> None:
        """Run the connection to its end: everything delivered, timers fired when nothing else
        can happen; a client that is still open closes."""
        for side in self.sides.values():
            self.pause_writes(side.conn.role, False)
        client = self.sides["client"]
        if client.conn.state is State.OPEN and self.sides["server"].conn.state is State.OPEN:
            self.close("client", (1000, "end"))
        for _ in range(1000):
            if all(s.conn.state is State.CLOSED for s in self.sides.values()):
                return
            moved = False
            for side in self.sides.values():
                if side.inp.buf or (side.inp.eof and not side.inp.eof_seen and not side.transport_closed):
                    self.deliver_to(side, 1 << 30, bytes)
                    moved = True
            if not moved:
                self.timers()
        raise AssertionError("the connections did not close")

    def check_end(self, side: Side, peer: Side) -> None:
        conn = side.conn
        assert conn.state is State.CLOSED and (side.transport_closed or side.inp.eof_seen)
        assert len(side.closed_events) == 1 and side.closed_events[0].code == conn.close_code
        assert conn.error is None, conn.error
        assert conn.was_clean == (conn.close_sent is not None and conn.close_received is not None)
        if conn.close_received is not None:
            assert peer.conn.close_sent is not None
            code, reason = peer.conn.close_sent  # what the peer put in its close frame
            assert (conn.close_code, conn.close_reason) == ((1005, "") if code is None else (code, reason))
            assert side.close_frames_received == [(conn.close_code, conn.close_reason)]
        else:
            assert conn.close_code == 1006
        if conn.was_clean and peer.conn.was_clean and conn.closed_by != peer.conn.closed_by:
            # one side closed, the other answered: both report the same close
            assert (conn.close_code, conn.close_reason) == (peer.conn.close_code, peer.conn.close_reason)
        expected = [m for m, end in peer.sent if end <= side.accepted]
        assert side.received == expected
        note_event("%s: %s, %s messages" % (conn.role, "clean" if conn.was_clean else "not clean",
                                       "some" if expected else "no"))


@pytest.mark.parametrize("deflate", list(DEFLATE), ids=list(DEFLATE))
def test_connection_pair(backend, deflate):
    machine = type(
        "ConnectionPair_%s_%s" % (backend.name, deflate), (ConnectionPair,), {"backend": backend, "deflate": DEFLATE[deflate]}
    )
    run_state_machine_as_test(machine, settings=settings(stateful_step_count=40))
