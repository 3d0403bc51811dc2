"""Reversible, thread-safe patching shared by the integrations.

Each integration module gives ``install_integration`` a builder that patches attributes through a
:class:`PatchSet`; the set remembers the exact objects it replaced (taken from the owner's
``__dict__``, so a classmethod is restored as the same classmethod object) and puts them back on
uninstall. One re-entrant lock serializes every install and uninstall.
"""

from __future__ import annotations

import importlib
import struct
import threading
import types
import warnings
from typing import Any, Callable, Dict, List, Tuple, Union

from .. import _backends
from ..errors import InvalidUTF8

__all__ = [
    "IntegrationError",
    "UnsupportedVersion",
    "PatchSet",
    "LOCK",
    "resolve_codec",
    "install_integration",
    "uninstall_integration",
    "installed_integrations",
    "codec_text",
]

#: Held while the patch registry changes (RLock: auto() installs while holding it).
LOCK = threading.RLock()

_MISSING = object()

Codec = Union[None, str, types.SimpleNamespace]


class IntegrationError(RuntimeError):
    """The library's internals are not what the integration was written for."""


class UnsupportedVersion(IntegrationError):
    """The installed library version is outside the tested range (install(force=True) overrides)."""


class PatchSet:
    """The attributes one integration replaced, in order, with the originals."""

    def __init__(self, name: str, codec: types.SimpleNamespace) -> None:
        self.name = name
        self.codec = codec.name
        self.functions = dict(vars(codec))  # what "the same codec" means for idempotence
        self._patches: List[Tuple[Any, str, Any, Any]] = []

    def set(self, owner: Any, attr: str, value: Any) -> None:
        original = owner.__dict__.get(attr, _MISSING)
        if original is _MISSING:
            raise IntegrationError("%s.%s does not exist" % (getattr(owner, "__name__", owner), attr))
        setattr(owner, attr, value)
        self._patches.append((owner, attr, original, value))

    def original(self, owner: Any, attr: str) -> Any:
        for o, a, original, _ in self._patches:
            if o is owner and a == attr:
                return original
        return owner.__dict__[attr]

    def restore(self) -> None:
        while self._patches:
            owner, attr, original, value = self._patches.pop()
            if owner.__dict__.get(attr, _MISSING) is not value:
                # Someone patched it after us: putting our original back would undo their patch.
                warnings.warn(
                    "wscodec: %s.%s was replaced by someone else; left as it is"
                    % (getattr(owner, "__name__", owner), attr),
                    RuntimeWarning,
                    stacklevel=4,
                )
                continue
            setattr(owner, attr, original)


_active: Dict[str, PatchSet] = {}


def resolve_codec(codec: Codec) -> types.SimpleNamespace:
    """The backend namespace for ``codec``: None (wscodec's selected backend), "c", "python", or
    an already loaded namespace (``wscodec._backends.load(name)``)."""
    if codec is None:
        import wscodec

        return _backends.load(wscodec.BACKEND)
    if isinstance(codec, str):
        if codec not in _backends.PACKAGES:
            raise ValueError("codec must be one of %s, not %r" % (sorted(_backends.PACKAGES), codec))
        return _backends.load(codec)
    missing = [n for names in _backends.API.values() for n in names if not hasattr(codec, n)]
    if missing:
        raise TypeError("codec namespace lacks %s" % ", ".join(missing))
    return codec


def version_tuple(version: str) -> Tuple[int, ...]:
    parts: List[int] = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
        if digits != piece:
            break
    return tuple(parts)


def check_version(
    name: str, version: str, supported: Tuple[Tuple[int, ...], Tuple[int, ...]], force: bool
) -> None:
    low, high = supported
    if force or low <= version_tuple(version) < high:
        return
    raise UnsupportedVersion(
        "wscodec's %s integration is tested with %s >= %s, < %s; %s is installed "
        "(install(force=True) to try anyway)"
        % (name, name, ".".join(map(str, low)), ".".join(map(str, high)), version)
    )


Builder = Callable[[PatchSet, types.SimpleNamespace, bool], None]


def install_integration(name: str, module: str, builder: Builder, codec: Codec, force: bool) -> bool:
    """Install ``name`` (idempotent); True when something changed.

    The library is imported before the lock is taken: an import running in another thread may be
    the one whose post-import hook is waiting for the lock (see ``auto(lazy=True)``).
    """
    ns = resolve_codec(codec)
    importlib.import_module(module)
    with LOCK:
        current = _active.get(name)
        if current is not None:
            if current.functions == vars(ns):
                return False
            uninstall_integration(name)  # switching codec: start from the originals
        patches = PatchSet(name, ns)
        try:
            builder(patches, ns, force)
        except BaseException:
            patches.restore()  # all or nothing
            raise
        _active[name] = patches
        return True


def uninstall_integration(name: str) -> bool:
    with LOCK:
        patches = _active.pop(name, None)
        if patches is None:
            return False
        patches.restore()
        return True


def installed_integrations() -> Dict[str, str]:
    """name -> codec backend name of every installed integration."""
    with LOCK:
        return {name: p.codec for name, p in _active.items()}


#: Below this many bytes a payload is sliced out of the receive buffer (one small copy); from it
#: on it is read through a memoryview (no copy: creating and releasing one costs ~0.5 us).
VIEW_THRESHOLD = 4096


def frame_header(first_byte: int, masked: bool, length: int) -> bytes:
    """A frame header, RFC 6455 5.2 (shortest length form), without the masking key: for the
    payloads build_frame does not take in one piece."""
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return struct.pack("!BB", first_byte, mask_bit | length)
    if length < 65536:
        return struct.pack("!BBH", first_byte, mask_bit | 126, length)
    return struct.pack("!BBQ", first_byte, mask_bit | 127, length)


def unmasker(apply_mask: Callable[[Any, Any], bytes]) -> Callable[[bytearray, int, int, bytes], bytes]:
    """``unmask(buf, start, end, key)``: buf[start:end] unmasked, as new bytes."""

    def unmask(buf: bytearray, start: int, end: int, key: bytes) -> bytes:
        if end - start < VIEW_THRESHOLD:
            return apply_mask(buf[start:end], key)
        view = memoryview(buf)
        part = view[start:end]
        try:
            return apply_mask(part, key)
        finally:
            # Released at once: the caller resizes buf next, which an export would forbid.
            part.release()
            view.release()

    return unmask


def copy_out(buf: bytearray, start: int, end: int) -> bytes:
    """bytes(buf[start:end]) with one copy instead of two."""
    with memoryview(buf) as view, view[start:end] as part:
        return part.tobytes()


def codec_text(codec: types.SimpleNamespace) -> Tuple[Callable[[Any], str], Callable[[str], bytes]]:
    """(decode, encode) for a library that converts text with CPython's codec: the codec's
    one-pass ``decode_text``/``encode_text``, with the library's errors unchanged. ``decode``
    raises exactly the UnicodeDecodeError of ``bytes(data).decode("utf-8")`` (the same arguments,
    so the same message), ``encode`` that of ``str.encode("utf-8")`` (lone surrogates)."""
    decode_text = codec.decode_text

    def decode(data: Any) -> str:
        try:
            return decode_text(data)
        except InvalidUTF8:  # rare: the library's own call raises the error it has always seen
            # (not str(data, "utf-8"): PyPy 7.3's shortcut for it accepts encoded surrogates)
            return bytes(data).decode("utf-8")

    return decode, codec.encode_text
