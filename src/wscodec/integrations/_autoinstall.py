"""Imported by ``wscodec-auto.pth`` at interpreter start, only when WSCODEC_AUTO_INSTALL is set.

Values: "1", "true", "yes", "on", "all" -> every integration; a comma-separated list of names
("wsproto,websocket_client") -> those; "0", "false", "no", "off" or empty -> nothing. Installs
lazily (at the first import of each library) and only reports problems as warnings.
WSCODEC_AUTO_INSTALL_CODEC: "c" (what an empty value means too: the compiled codec or nothing)
or "python" (the pure-Python codec, for testing: it makes the libraries no faster).
"""

from __future__ import annotations

import os
import warnings
from typing import List, Optional

from . import ENV_VAR, INTEGRATIONS, auto

CODEC_VAR = ENV_VAR + "_CODEC"

_ALL = ("1", "true", "yes", "on", "all")
_NONE = ("", "0", "false", "no", "off")


def selection(value: str) -> Optional[List[str]]:
    """The integration names a value of WSCODEC_AUTO_INSTALL asks for (None: all but EXPLICIT_ONLY)."""
    value = value.strip().lower()
    if value in _ALL:
        return None
    if value in _NONE:
        return []
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in INTEGRATIONS]
    if unknown:
        warnings.warn(
            "wscodec: %s names unknown integration(s) %s" % (ENV_VAR, ", ".join(unknown)),
            RuntimeWarning,
            stacklevel=2,
        )
    return [n for n in names if n in INTEGRATIONS]


def run() -> List[str]:
    names = selection(os.environ.get(ENV_VAR, ""))
    if names == []:
        return []
    codec = os.environ.get(CODEC_VAR, "").strip().lower() or None
    if codec not in (None, "c", "python"):
        warnings.warn(
            "wscodec: %s must be c or python, not %r" % (CODEC_VAR, codec), RuntimeWarning, stacklevel=2
        )
        return []
    return auto(names, codec=codec, lazy=True)


run()
