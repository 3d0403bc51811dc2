"""Close frame payloads (RFC 6455 sections 5.5.1 and 7.4), pure Python."""
from __future__ import annotations

import operator
from typing import Any, Optional, Tuple, Union

from .._types import MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD, CloseCode, close_code_value
from ..errors import InvalidUTF8, ProtocolError
from ._buf import byte_view
from .utf8 import utf8_error_offset

__all__ = ["parse_close", "build_close", "is_valid_close_code"]


def is_valid_close_code(code: int) -> bool:
    """True for the codes a close frame may carry on the wire.

    1000-1003 and 1007-1014 (defined by RFC 6455 and IANA), 3000-4999 (registered and private
    use). 1004 is reserved, 1005, 1006 and 1015 are for local reporting only, 1016-2999 are
    unassigned, below 1000 and from 5000 up are not used. Non-integers raise TypeError.
    """
    code = operator.index(code)
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def parse_close(payload: Any) -> Tuple[Union[CloseCode, int], str]:
    """Return ``(code, reason)`` of a received close frame; ``b""`` gives ``(1005, "")``."""
    view = byte_view(payload)
    n = len(view)
    if n == 0:
        return CloseCode.NO_STATUS_RCVD, ""
    if n == 1:
        raise ProtocolError("close payload of 1 byte")
    if n > MAX_CONTROL_PAYLOAD:
        raise ProtocolError("control frame too long")
    code = (view[0] << 8) | view[1]
    if not is_valid_close_code(code):
        raise ProtocolError("invalid close code")
    reason = view[2:]
    bad = utf8_error_offset(reason)
    if bad is not None:
        raise InvalidUTF8("invalid UTF-8 in close reason", offset=2 + bad)
    return close_code_value(code), reason.tobytes().decode("utf-8")


def build_close(code: Optional[int] = CloseCode.NORMAL_CLOSURE, reason: str = "") -> bytes:
    """Close payload for ``code`` and ``reason``; ``code=None`` gives the empty payload.

    Raises ValueError for anything ``parse_close`` would reject: a code that may not be sent, a
    reason without a code, a reason over 123 bytes of UTF-8 (never cut silently).
    """
    if not isinstance(reason, str):
        raise TypeError("reason must be str")
    if code is None:
        if reason:
            raise ValueError("a close reason needs a close code")
        return b""
    if not isinstance(code, int):
        raise TypeError("close code must be int")
    if not is_valid_close_code(code):
        raise ValueError("close code %d may not be sent" % code)
    data = reason.encode("utf-8")
    if len(data) > MAX_CLOSE_REASON:
        raise ValueError("close reason is %d bytes of UTF-8, the limit is 123" % len(data))
    return code.to_bytes(2, "big") + data
