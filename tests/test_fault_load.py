"""Load with faults (small): clients echoing while others drop, stall or send garbage; no data
lost or reordered for the survivors, the server's connection count back to zero, nothing escapes
to the loop's exception handler. bench/fault_load.py is the long version."""
from __future__ import annotations

import asyncio

import pytest

from .faultload import run_load

pytestmark = pytest.mark.slow


def test_echo_under_faults(backend):
    tally = asyncio.run(run_load(backend, clients=30, messages=12, heartbeat=0.3, stall_seconds=1.5))
    print(tally.summary())
    assert all(tally.clients[k] for k in ("good", "abort", "stall", "garbage")), tally.clients
    assert tally.ok, tally.summary() + "\n" + "\n".join(tally.good_failures[:5] + tally.loop_errors[:5])
    assert tally.sent == tally.clients["good"] * 12
    assert tally.ping_timeouts >= tally.clients["stall"]  # the heartbeat dropped the stalled peer
