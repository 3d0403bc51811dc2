"""Writing ``Connection.buffers_to_send()`` to an asyncio transport without copying the large
payloads it keeps apart."""

from __future__ import annotations

import sys
from typing import Any, List

__all__ = ["write_buffers"]

# 3.12+ selector transports keep the buffers of writelines() as they are and send them with one
# sendmsg(). Before, writelines() joins them; writing them one by one instead costs a system
# call per frame header, and measured no better at 1 MiB: one joined write there.
_WRITELINES_KEEPS_BUFFERS = sys.version_info >= (3, 12)


def write_buffers(transport: Any, buffers: List[bytes]) -> None:
    if len(buffers) == 1:
        transport.write(buffers[0])
    elif _WRITELINES_KEEPS_BUFFERS:
        transport.writelines(buffers)
        # Before 3.12.9 and 3.13.2 (CPython gh-127655) writelines() never paused the protocol
        # at the high-water mark: setting the limits again checks the mark (and pauses once).
        size = transport.get_write_buffer_size()
        if size:
            low, high = transport.get_write_buffer_limits()
            if size > high:
                transport.set_write_buffer_limits(high, low)
    elif buffers:
        transport.write(b"".join(buffers))
