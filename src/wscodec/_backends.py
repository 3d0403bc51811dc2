"""Loading and selecting a backend.

Both backends expose the same names from the same module names (``wscodec._py.mask`` and
``wscodec._c.mask``, ...), so they can be loaded side by side and compared.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import types
from typing import Dict, Tuple

#: module name -> public names it defines, identical in both backends.
API: Dict[str, Tuple[str, ...]] = {
    "mask": ("apply_mask", "mask_inplace", "Masker"),
    "utf8": ("validate_utf8", "utf8_error_offset", "Utf8Validator"),
    "text": ("decode_text", "encode_text", "TextDecoder"),
    "frames": ("parse_header", "build_frame", "FrameDecoder"),
    "close": ("parse_close", "build_close", "is_valid_close_code"),
    "handshake": ("accept_key", "generate_key", "validate_key"),
}

PACKAGES = {"c": "wscodec._c", "python": "wscodec._py"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def load(name: str) -> types.SimpleNamespace:
    """All public functions and classes of backend ``name`` ("c" or "python") in one namespace.

    Raises ImportError when that backend cannot be imported.
    """
    package = PACKAGES[name]
    ns = types.SimpleNamespace(name=name)
    for module, names in API.items():
        mod = importlib.import_module("%s.%s" % (package, module))
        for attr in names:
            setattr(ns, attr, getattr(mod, attr))
    return ns


def extensions_built() -> bool:
    """Whether the compiled modules are present (without importing them)."""
    try:
        return all(importlib.util.find_spec("wscodec._c." + m) is not None for m in API)
    except ImportError:
        return False


def choose() -> Tuple[str, bool]:
    """(backend name, extensions available) as the environment asks."""
    if _flag("WSCODEC_NO_EXTENSIONS"):
        return "python", extensions_built()
    try:
        load("c")
    except ImportError as exc:
        if _flag("WSCODEC_REQUIRE_EXTENSIONS"):
            raise ImportError(
                "WSCODEC_REQUIRE_EXTENSIONS is set but the compiled backend cannot be imported: %s" % exc
            ) from exc
        return "python", False
    return "c", True
