"""Building one 16 B text frame: server side (unmasked) and client side (masked, fresh key).

wscodec ``build_frame(TEXT, payload, mask=True)`` (key from ``os.urandom``) vs websockets
``Frame(TEXT, payload).serialize(mask=...)`` (``secrets``), wsproto ``FrameProtocol.send_data``
of a str (``os.urandom``) and picows ``WSTransport.send`` into a stub transport that keeps the
bytes (its client key comes from C ``rand()``, not a CSPRNG). Each result is decoded and checked.
"""
from __future__ import annotations

import pytest

from wscodec._benchlib import BUILD_IMPLS, build_workload

from ._cases import cases


@pytest.mark.parametrize("client, impl", cases((False, True), BUILD_IMPLS, lambda c: ("server", "client")[c]))
def test_build_frame(run_workload, client, impl):
    run_workload(build_workload(client), impl)
