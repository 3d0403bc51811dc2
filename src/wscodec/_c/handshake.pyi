"""Type stubs for the compiled twin of wscodec._py.handshake."""
from typing import List, Union

__all__: List[str]

GUID: bytes

def validate_key(key: Union[str, bytes]) -> bool: ...
def accept_key(key: Union[str, bytes]) -> str: ...
def generate_key() -> str: ...
