"""Workload and adapter types, sizes and input data shared by every benchmark family."""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

from .._backends import load

KiB = 1024
MiB = 1024 * KiB
MASK = b"\x37\xfa\x21\x3d"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_SIZE = 64 * MiB  # frame size limit given to every decoder: never the bottleneck
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3 sample key
#: distribution name of each reference, for version reporting
REFERENCE_PACKAGES = ("websockets", "wsaccel", "aiohttp", "wsproto", "picows")

Op = Callable[[], Any]


@dataclass(frozen=True)
class Impl:
    name: str
    requires: str  # module imported by make(); ImportError means "not installed"
    make: Callable[..., Op]
    baseline: bool = False  # a physical/stdlib limit, not a codec: its result is not checked


@dataclass
class Workload:
    family: str  # mask, mask_inplace, utf8, utf8_stream, frames, accept_key, build_frame
    label: str
    size: str
    nbytes: int  # bytes processed per operation (throughput = nbytes / time)
    args: Tuple[Any, ...]
    check: Callable[[Any], bool]
    impls: Sequence[Impl]
    unit: str = "bytes"  # "bytes": report GB/s; "ops": report operations/s

    @property
    def group(self) -> str:
        return "%s %s" % (self.label, self.size)

    def impl(self, name: str) -> Impl:
        for impl in self.impls:
            if impl.name == name:
                return impl
        raise KeyError(name)


def size_label(n: int) -> str:
    """"16 KiB" for exact multiples, else rounded ("215 KiB", "1008 KiB", "1.5 MiB")."""
    for unit, scale in (("MiB", MiB), ("KiB", KiB)):
        if n >= scale:
            if n % scale == 0:
                return "%d %s" % (n // scale, unit)
            return ("%.0f %s" if n >= 100 * scale else "%.3g %s") % (n / scale, unit)
    return "%d B" % n


def wscodec_impls(fn: Callable[..., Op]) -> List[Impl]:
    return [
        Impl("wscodec[%s]" % b, "wscodec.%s.frames" % p, functools.partial(_with_backend, fn, b))
        for b, p in (("c", "_c"), ("python", "_py"))
    ]


def _with_backend(fn: Callable[..., Op], backend: str, *args: Any) -> Op:
    return fn(load(backend), *args)


# -- data ------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def random_bytes(n: int, seed: int = 6455) -> bytes:
    return random.Random(seed).randbytes(n)


_SAMPLES = {
    "ascii": ("The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor "
              "jugs! 0123456789\n").encode(),
    "chinese": "我能吞下玻璃而不伤身体。敏捷的棕色狐狸跳过了懒狗，天地玄黄宇宙洪荒。".encode(),
    "emoji": "😀🚀🎉🐍💡🔥🌍🤖🧪📦".encode(),
}
UTF8_KINDS = ("ascii", "chinese", "emoji", "invalid_end")


def utf8_sample(kind: str, n: int) -> bytes:
    """``n`` bytes of UTF-8: whole characters of ``kind`` padded with ASCII to exactly ``n``.

    ``invalid_end`` is ASCII with a 0xFF last byte: the whole input is scanned before it fails.
    """
    if kind == "invalid_end":
        return utf8_sample("ascii", n - 1) + b"\xff"
    unit = _SAMPLES[kind]
    text = (unit * (n // len(unit) + 1)).decode()
    width = len(text[0].encode())
    chars = n // width
    data = text[:chars].encode()
    return data + b" " * (n - len(data))


def frame_stream(count: int, size: int, opcode: int, seed: int = 13) -> bytes:
    """``count`` masked client frames of ``size``-byte payloads, each with its own random key."""
    from .._py.frames import build_frame

    rng = random.Random(seed)
    payload = utf8_sample("ascii", size) if opcode == 1 else random_bytes(size)
    return b"".join(build_frame(opcode, payload, mask=rng.randbytes(4)) for _ in range(count))


def split(data: bytes, chunk: Optional[int]) -> List[bytes]:
    if not chunk:
        return [data]
    return [data[i:i + chunk] for i in range(0, len(data), chunk)]


def memcpy(data: bytes, *_: Any) -> Op:
    src = bytearray(data)
    return lambda: bytes(src)  # one allocation + one copy of the same size: the physical limit
