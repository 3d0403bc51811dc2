"""Value types shared by both backends (defined once so that results compare equal)."""
from __future__ import annotations

import enum
from typing import NamedTuple, Optional, Union

__all__ = ["Opcode", "CloseCode", "FrameHeader", "Frame", "MAX_CONTROL_PAYLOAD", "MAX_CLOSE_REASON"]

#: RFC 6455 5.5: all control frames MUST have a payload length of 125 bytes or less.
MAX_CONTROL_PAYLOAD = 125
#: A close payload is a 2-byte code followed by the reason.
MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2


class Opcode(enum.IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        return self >= 0x8


class CloseCode(enum.IntEnum):
    """Close codes registered by RFC 6455 section 7.4.1 and the IANA registry."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005  # local only: the close frame had no code
    ABNORMAL_CLOSURE = 1006  # local only: the connection dropped without a close frame
    INVALID_FRAME_PAYLOAD_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015  # local only: TLS handshake failure


class FrameHeader(NamedTuple):
    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: Opcode
    masked: bool
    length: int
    mask: Optional[bytes]
    header_size: int


class Frame(NamedTuple):
    opcode: Opcode
    fin: bool
    rsv1: bool
    payload: bytes


# Lookup tables the backends use to return enum members without a per-call enum construction.
OPCODES = tuple(Opcode(i) if i in Opcode._value2member_map_ else None for i in range(16))
CLOSE_CODES = {int(c): c for c in CloseCode}


def close_code_value(code: int) -> Union[CloseCode, int]:
    """``CloseCode(code)`` where it is a registered code, else the plain int."""
    return CLOSE_CODES.get(code, code)
