"""Sec-WebSocket-Accept for the RFC 6455 sample key: wscodec ``accept_key`` vs websockets
``utils.accept_key``, wsproto ``utilities.generate_accept_token`` and the stdlib one-liner
``base64.b64encode(hashlib.sha1(key + GUID).digest())``."""
from __future__ import annotations

import pytest

from wscodec._benchlib import ACCEPT_IMPLS, accept_workload


@pytest.mark.parametrize("impl", [i.name for i in ACCEPT_IMPLS])
def test_accept_key(run_workload, impl):
    run_workload(accept_workload(), impl)
