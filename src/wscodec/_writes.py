"""Writing ``Connection.buffers_to_send()`` to an asyncio transport without copying the large
payloads it keeps apart."""

from __future__ import annotations

import sys
from typing import Any, List

__all__ = ["write_buffers"]

# 3.12+ selector transports keep the buffers of writelines() as they are and send them with one
# sendmsg(); before, writelines() joins them, and one write per buffer would cost a system call
# per frame header: one joined write is cheaper there.
_WRITELINES_KEEPS_BUFFERS = sys.version_info >= (3, 12)


def write_buffers(transport: Any, buffers: List[bytes]) -> None:
    if len(buffers) == 1:
        transport.write(buffers[0])
    elif buffers:
        if _WRITELINES_KEEPS_BUFFERS:
            transport.writelines(buffers)
        else:
            transport.write(b"".join(buffers))
