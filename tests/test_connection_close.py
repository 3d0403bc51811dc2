"""Sans-I/O Connection: closing handshake, close codes, timers (close, heartbeat, idle), ping/pong.

Time is passed in explicitly: no test sleeps.
"""

from __future__ import annotations

import pytest

from wscodec.connection import Connection, State
from wscodec.errors import ConnectionClosed, ConnectionClosedOK
from wscodec.events import Closed, CloseReceived, Message, Ping, Pong

from .connection_helpers import cframe, close_frames, frames_of, pair, pump, sframe, types_of


def test_client_initiated_close(backend):
    client, server = pair(backend)
    client.close(1000, "done")
    ce, se = pump(client, server)
    assert se == [CloseReceived(1000, "done")]
    assert ce == [CloseReceived(1000, "done")]  # the echo carries the code and the reason
    assert server.state is State.CLOSING and server.should_close_transport  # server closes TCP first
    assert client.state is State.CLOSING and not client.should_close_transport  # client waits
    assert server.receive_eof() == [Closed(1000, "done", True, "remote")]
    assert client.receive_eof() == [Closed(1000, "done", True, "local")]
    assert (client.close_code, client.was_clean, client.closed_by) == (1000, True, "local")


def test_server_initiated_close(backend):
    client, server = pair(backend)
    server.close(1001, "going away")
    ce, se = pump(client, server)
    assert ce == [CloseReceived(1001, "going away")] and se == [CloseReceived(1001, "going away")]
    assert server.should_close_transport and not server.transport_abort
    assert client.receive_eof() == [Closed(1001, "going away", True, "remote")]
    assert server.receive_eof() == [Closed(1001, "going away", True, "local")]


def test_simultaneous_close(backend):
    client, server = pair(backend)
    client.close(1000, "c")
    server.close(4001, "s")
    ce, se = pump(client, server)
    assert ce == [CloseReceived(4001, "s")] and se == [CloseReceived(1000, "c")]
    [c_closed], [s_closed] = client.receive_eof(), server.receive_eof()
    assert c_closed == Closed(4001, "s", True, "local")
    assert s_closed == Closed(1000, "c", True, "local")


def test_echo_keeps_the_received_code_and_reason(backend):
    server = Connection("server", codec=backend)
    server.receive_data(cframe(backend, 8, backend.build_close(3999, "app ü")))
    assert close_frames(backend, server.data_to_send(), from_client=False) == [(3999, "app ü")]


def test_close_without_code_is_1005_and_answered_empty(backend):
    server = Connection("server", codec=backend)
    assert server.receive_data(cframe(backend, 8, b"")) == [CloseReceived(1005, "")]
    [frame] = frames_of(backend, server.data_to_send(), from_client=False)
    assert frame.opcode == 8 and bytes(frame.payload) == b""
    assert server.receive_eof() == [Closed(1005, "", True, "remote")]


def test_peer_never_answers_close(backend):
    server = Connection("server", codec=backend, close_timeout=0.5)
    server.close(1000, now=10.0)
    assert server.next_deadline() == 10.5
    assert server.handle_timeout(10.4) == [] and server.state is State.CLOSING
    [closed] = server.handle_timeout(10.5)
    assert (closed.code, closed.was_clean, closed.closed_by) == (1006, False, "local")
    assert server.transport_abort and server.state is State.CLOSED
    assert server.next_deadline() is None


def test_close_timeout_argument_overrides_default(backend):
    conn = Connection("client", codec=backend, close_timeout=10)
    conn.close(1000, now=1.0, timeout=0.25)
    assert conn.next_deadline() == 1.25


def test_abort_is_1006_on_both_sides(backend):
    client, server = pair(backend)
    client.send("x")
    [closed] = client.abort()
    assert closed == Closed(1006, "connection aborted", False, "local")
    assert client.transport_abort
    assert server.receive_eof() == [Closed(1006, "", False, "remote")]


def test_eof_without_close(backend):
    server = Connection("server", codec=backend)
    server.receive_data(cframe(backend, 1, b"partial", fin=False))
    assert server.receive_eof() == [Closed(1006, "", False, "remote")]
    assert server.receive_eof() == []  # idempotent
    with pytest.raises(ConnectionClosed) as info:
        server.send("x")
    assert info.value.code == 1006


def test_client_waits_for_server_then_closes_itself(backend):
    client = Connection("client", codec=backend, close_timeout=1.0)
    client.close(1000, now=0.0)
    client.receive_data(sframe(backend, 8, backend.build_close(1000)), now=0.2)
    assert not client.should_close_transport and client.next_deadline() == 1.2
    assert client.handle_timeout(1.2) == []
    assert client.should_close_transport and not client.transport_abort  # polite close of TCP
    assert client.next_deadline() == 2.2  # and if the transport will not close, abort
    [closed] = client.handle_timeout(2.2)
    assert closed.code == 1000 and closed.was_clean and client.transport_abort


def test_server_transport_that_does_not_close_is_aborted(backend):
    server = Connection("server", codec=backend, close_timeout=1.0)
    server.receive_data(cframe(backend, 8, backend.build_close(1000)), now=5.0)
    assert server.should_close_transport and server.next_deadline() == 6.0
    [closed] = server.handle_timeout(6.0)
    assert closed.code == 1000 and server.transport_abort


def test_data_after_close_sent_is_ignored_control_frames_are_not(backend):
    server = Connection("server", codec=backend)
    server.ping(b"hb", now=0.0)
    server.close(1000)
    server.data_to_send()
    events = server.receive_data(
        cframe(backend, 1, "late") + cframe(backend, 9, b"p") + cframe(backend, 10, b"hb"), now=1.0
    )
    assert types_of(events) == ["Ping", "Pong"]
    assert server.data_to_send() == b""  # no pong once our close is out
    assert events[1].rtt == 1.0


def test_invalid_outgoing_close_raises_and_changes_nothing(backend):
    conn = Connection("server", codec=backend)
    for code, reason in [(1005, ""), (1006, ""), (999, ""), (5000, ""), (1000, "x" * 124)]:
        with pytest.raises(ValueError):
            conn.close(code, reason)
    with pytest.raises(ValueError):
        conn.close(None, "reason without code")
    assert conn.state is State.OPEN and conn.data_to_send() == b""
    conn.close(1000, "é" * 61)  # 122 bytes: fits
    assert close_frames(backend, conn.data_to_send(), False) == [(1000, "é" * 61)]


def test_send_after_close_raises(backend):
    client, server = pair(backend)
    client.close()
    with pytest.raises(ConnectionClosed):
        client.send("x")
    pump(client, server)
    client.receive_eof()
    with pytest.raises(ConnectionClosedOK):
        client.send("x")
    client.close()  # closing again is a no-op


def test_ping_pong_matching(backend):
    client, server = pair(backend)
    p1 = client.ping(b"one", now=0.0)
    p2 = client.ping(now=1.0)
    with pytest.raises(ValueError):
        client.ping(b"one")
    ce, se = pump(client, server, now=1.5)
    assert se == [Ping(b"one"), Ping(p2)]
    # each ping its pong while writes flow (coalescing is only for paused writes)
    assert ce == [Pong(b"one", 1.5, ((b"one", 1.5),)), Pong(p2, 0.5, ((p2, 0.5),))]
    assert client.pings == {} and client.last_rtt == 0.5
    p3 = client.ping(now=2.0)
    ce, se = pump(client, server, now=2.25)
    assert se == [Ping(p3)] and ce == [Pong(p3, 0.25, ((p3, 0.25),))]


def test_pong_acknowledges_earlier_pings(backend):
    client = Connection("client", codec=backend)
    client.ping(b"a", now=0.0)
    client.ping(b"b", now=1.0)
    client.ping(b"c", now=2.0)
    [pong] = client.receive_data(sframe(backend, 10, b"b"), now=3.0)
    assert pong == Pong(b"b", 2.0, ((b"a", 3.0), (b"b", 2.0)))
    assert list(client.pings) == [b"c"]
    [unsolicited] = client.receive_data(sframe(backend, 10, b"zz"), now=3.0)
    assert unsolicited == Pong(b"zz", None, ())


def test_heartbeat(backend):
    client, server = pair(backend)
    server = Connection("server", codec=backend, ping_interval=1.0, ping_timeout=0.5, now=0.0)
    assert server.next_deadline() == 1.0
    server.handle_timeout(1.0)
    ce, se = pump(client, server, now=1.2)  # the client answers in 0.2 s
    assert types_of(ce) == ["Ping"] and se[0].rtt == pytest.approx(0.2)
    assert server.next_deadline() == 2.0
    server.handle_timeout(2.0)
    assert frames_of(backend, server.data_to_send(), False)[0].opcode == 9
    assert server.next_deadline() == 2.5
    [closed] = server.handle_timeout(2.5)  # no pong in time
    assert (closed.code, closed.closed_by) == (1006, "local") and "ping timeout" in closed.reason
    assert server.transport_abort


def test_idle_timeout(backend):
    client, server = pair(backend)
    server = Connection("server", codec=backend, idle_timeout=5.0, now=0.0)
    server.receive_data(cframe(backend, 1, "hi"), now=3.0)
    assert server.next_deadline() == 8.0
    server.receive_data(cframe(backend, 9, b"ping"), now=7.0)  # control frames are not activity
    assert server.handle_timeout(7.9) == []
    server.data_to_send()
    server.handle_timeout(8.0)
    assert close_frames(backend, server.data_to_send(), False) == [(1001, "idle timeout")]
    assert server.state is State.CLOSING


def test_idle_close_code_is_configurable(backend):
    conn = Connection("client", codec=backend, idle_timeout=1.0, idle_close_code=4000)
    conn.send(b"x", now=0.5)
    conn.handle_timeout(1.5)
    assert close_frames(backend, conn.data_to_send(), True)[-1] == (4000, "idle timeout")


def test_messages_survive_the_closing_handshake_order(backend):
    client, server = pair(backend)
    client.send("last")
    client.close()
    _, se = pump(client, server)
    assert se == [Message("last"), CloseReceived(1000, "")]
