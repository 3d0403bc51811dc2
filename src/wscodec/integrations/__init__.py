"""Drop-in speedups: wscodec's codec inside wsproto, websockets, websocket-client, tornado,
autobahn (daphne) and aiohttp, their behaviour unchanged.

    import wscodec.integrations
    wscodec.integrations.install("wsproto")   # or "websockets", "websocket_client", "tornado",
                                              # "autobahn", "aiohttp", a list; None: all
    wscodec.integrations.auto()               # every integration whose library is importable
    wscodec.integrations.uninstall()          # the libraries' original code, exactly

Each integration patches a few methods of its library in place (``wscodec.integrations.wsproto``,
``.websockets``, ``.websocket_client``, ``.tornado``, ``.autobahn`` and ``.aiohttp`` say which and
why). The fast paths take only input the library accepts and hand everything else to the
library's own code, so events, exceptions, error messages, close codes and partial-frame delivery
stay the library's. Installing is idempotent, serialized by a lock and reversible; ``codec=`` picks the wscodec backend ("c" or
"python"; ``install`` defaults to ``wscodec.BACKEND``, ``auto`` to the compiled one only).

Without a code change: ``WSCODEC_AUTO_INSTALL=1`` (or a comma-separated list such as
``wsproto``) in the environment. The wheel puts ``wscodec-auto.pth`` in site-packages; Python
runs its single line at every interpreter start. With the variable unset that line costs one
``os.environ`` lookup and imports nothing. With it set, it registers a post-import hook and each
integration is installed when its library is first imported (nothing is imported early; a
process that never imports wsproto never pays for it; tornado's waits for ``tornado.websocket``).
``WSCODEC_AUTO_INSTALL_CODEC=python`` allows the pure-Python codec (for testing: it makes the
libraries no faster). Trade-offs:

* Process-wide, and inherited by every child process through the environment: set it where the
  application starts, not globally in a shell profile.
* Invisible in the code: whoever reads the application does not see that its WebSocket library runs
  patched code. ``wscodec.integrations.installed()`` tells, and logs can record it.
* Skipped by ``python -S``, by ``-I`` embedders that do not run site, and by installs that do not
  process .pth files (zipapps, some freezers; editable installs of wscodec do not get the file);
  call ``auto()`` from code there.
* Never breaks startup: a failure (wscodec not importable, a library version outside the tested
  range, changed internals) is one warning line on stderr, and the library runs unpatched.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from ._patch import (
    Codec,
    IntegrationError,
    UnsupportedVersion,
    installed_integrations,
)

__all__ = [
    "INTEGRATIONS",
    "EXPLICIT_ONLY",
    "install",
    "uninstall",
    "installed",
    "available",
    "auto",
    "IntegrationError",
    "UnsupportedVersion",
    "ENV_VAR",
]

#: integration name -> the module the post-import hook waits for: the library's top-level package,
#: or for tornado its WebSocket module (a tornado application without WebSockets never imports it).
#: websocket_client: the websocket-client distribution, imported as ``websocket``.
INTEGRATIONS: Dict[str, str] = {
    "wsproto": "wsproto",
    "websockets": "websockets",
    "websocket_client": "websocket",
    "autobahn": "autobahn",
    "tornado": "tornado.websocket",
    "aiohttp": "aiohttp",
}
#: Installed only when named (install("aiohttp"), auto("aiohttp"), WSCODEC_AUTO_INSTALL=aiohttp),
#: never by auto() or WSCODEC_AUTO_INSTALL=1: aiohttp's server is not measurably faster with it
#: (its reader is compiled and cannot be reached; see the README).
EXPLICIT_ONLY = frozenset({"aiohttp"})
ENV_VAR = "WSCODEC_AUTO_INSTALL"

Names = Union[None, str, Iterable[str]]


def _names(names: Names) -> List[str]:
    if names is None:
        return list(INTEGRATIONS)
    selected = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in selected if n not in INTEGRATIONS]
    if unknown:
        raise ValueError(
            "unknown integration(s) %s; known: %s" % (", ".join(unknown), ", ".join(INTEGRATIONS))
        )
    return selected


def _module(name: str) -> types.ModuleType:
    return importlib.import_module("%s.%s" % (__name__, name))


def install(names: Names = None, *, codec: Codec = None, force: bool = False) -> List[str]:
    """Install the named integrations (None: all); returns the names now installed.

    Raises ImportError when a library is not installed, UnsupportedVersion outside the tested
    range (unless ``force``), IntegrationError when its internals differ from what we patch.
    """
    done = []
    for name in _names(names):
        _hook.cancel(name)
        _module(name).install(codec, force=force)
        done.append(name)
    return done


def uninstall(names: Names = None) -> List[str]:
    """Restore the libraries' original code (and cancel pending lazy installs); returns the names
    that were installed."""
    removed = []
    for name in _names(names):
        _hook.cancel(name)
        if name in installed_integrations() and _module(name).uninstall():
            removed.append(name)
    return removed


def installed() -> Dict[str, str]:
    """Installed integrations: name -> wscodec backend name ("c" or "python")."""
    return installed_integrations()


def available() -> List[str]:
    """The integrations whose library is importable (found without importing it)."""
    found = []
    for name, package in INTEGRATIONS.items():
        try:
            # the top-level package only: find_spec("a.b") would import a
            top = package.partition(".")[0]
            if package in sys.modules or importlib.util.find_spec(top) is not None:
                found.append(name)
        except (ImportError, ValueError):
            pass
    return found


def auto(names: Names = None, *, codec: Codec = None, lazy: bool = False) -> List[str]:
    """Install every integration (of ``names``) whose library is importable; never raises for a
    library that is missing, unsupported or changed: it warns and skips it.

    ``codec=None`` means the compiled codec, and nothing (with a warning) when it is not in use
    (not built, or WSCODEC_NO_EXTENSIONS=1): with the pure-Python codec the libraries would not
    get faster (websockets would get slower).
    Pass ``codec="python"`` to install with it anyway. ``lazy=True`` installs an integration when
    its library is first imported (at once if it already is), so that calling this early costs no
    imports. Returns the names installed or scheduled. ``names=None`` leaves out EXPLICIT_ONLY.
    """
    selected = _names(names) if names is not None else [n for n in INTEGRATIONS if n not in EXPLICIT_ONLY]
    chosen = [n for n in selected if n in available()]
    if codec is None and chosen:
        import wscodec

        if wscodec.BACKEND != "c":
            warnings.warn(
                "wscodec: integrations not installed: the compiled codec is not in use "
                "(not built, or WSCODEC_NO_EXTENSIONS is set)",
                RuntimeWarning,
                stacklevel=2,
            )
            return []
        codec = "c"
    done = []
    for name in chosen:
        package = INTEGRATIONS[name]
        if lazy and package not in sys.modules:
            _hook.schedule(name, package, _deferred(name, codec))
            if package in sys.modules and name in _hook.pending():  # imported meanwhile
                _hook.cancel(name)
                _install_quietly(name, codec)
            done.append(name)
        elif _install_quietly(name, codec):
            done.append(name)
    return done


def _deferred(name: str, codec: Codec) -> Callable[[], None]:
    def callback() -> None:
        _install_quietly(name, codec)

    return callback


def _install_quietly(name: str, codec: Codec) -> bool:
    try:
        install(name, codec=codec)
    except Exception as exc:  # auto() must never break the application
        warnings.warn("wscodec: %s integration not installed: %s" % (name, exc), RuntimeWarning, stacklevel=3)
        return False
    return True


class _ChainedLoader(importlib.abc.Loader):
    """Runs the real loader, then the callbacks; the module keeps the real loader."""

    def __init__(self, loader: Any, callback: Callable[[], None]) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[types.ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__loader__ = self._loader
        spec = getattr(module, "__spec__", None)
        if spec is not None:
            spec.loader = self._loader
        self._loader.exec_module(module)
        self._callback()

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._loader, attr)


class _PostImportHook(importlib.abc.MetaPathFinder):
    """Calls a callback right after a top-level package is imported (for the lazy install)."""

    def __init__(self) -> None:
        self._pending: Dict[str, Dict[str, Callable[[], None]]] = {}  # package -> name -> callback
        self._lock = threading.Lock()

    def schedule(self, name: str, package: str, callback: Callable[[], None]) -> None:
        with self._lock:
            self._pending.setdefault(package, {})[name] = callback
            if self not in sys.meta_path:
                sys.meta_path.insert(0, self)

    def cancel(self, name: str) -> None:
        with self._lock:
            for callbacks in self._pending.values():
                callbacks.pop(name, None)
            self._pending = {p: c for p, c in self._pending.items() if c}
            if not self._pending and self in sys.meta_path:
                sys.meta_path.remove(self)

    def pending(self) -> List[str]:
        with self._lock:
            return [name for callbacks in self._pending.values() for name in callbacks]

    def _run(self, package: str) -> None:
        with self._lock:
            callbacks = self._pending.pop(package, {})
            if not self._pending and self in sys.meta_path:
                sys.meta_path.remove(self)
        for callback in callbacks.values():
            callback()

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[types.ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname not in self._pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _ChainedLoader(spec.loader, lambda: self._run(fullname))
        return spec


_hook = _PostImportHook()


def _pending() -> List[str]:
    """Integrations scheduled by ``auto(lazy=True)`` whose library is not imported yet."""
    return _hook.pending()
