"""Type stubs for the compiled twin of wscodec._py.close."""
from typing import Any, List, Optional, Tuple, Union

from .._types import CloseCode

__all__: List[str]

def is_valid_close_code(code: int) -> bool: ...
def parse_close(payload: Any) -> Tuple[Union[CloseCode, int], str]: ...
def build_close(code: Optional[int] = ..., reason: str = "") -> bytes: ...
