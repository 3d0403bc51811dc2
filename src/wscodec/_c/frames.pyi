"""Type stubs for the compiled twin of wscodec._py.frames."""
from typing import Any, List, Optional, Union

from .._types import Frame, FrameHeader

__all__: List[str]

DEFAULT_MAX_FRAME_SIZE: int

def parse_header(data: Any, offset: int = 0) -> Optional[FrameHeader]: ...
def build_frame(
    opcode: int,
    payload: Any = b"",
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: Union[bool, bytes, None] = False,
) -> bytes: ...

class FrameDecoder:
    def __init__(
        self,
        *,
        require_mask: bool,
        max_frame_size: Optional[int] = ...,
        allow_rsv1: bool = False,
    ) -> None: ...
    @property
    def require_mask(self) -> bool: ...
    @require_mask.setter
    def require_mask(self, value: bool) -> None: ...
    @property
    def max_frame_size(self) -> Optional[int]: ...
    @max_frame_size.setter
    def max_frame_size(self, value: Optional[int]) -> None: ...
    @property
    def allow_rsv1(self) -> bool: ...
    @allow_rsv1.setter
    def allow_rsv1(self, value: bool) -> None: ...
    @property
    def buffered(self) -> int: ...
    def feed(self, data: Any) -> List[Frame]: ...
