"""auto(), the WSCODEC_AUTO_INSTALL switch and its .pth hook, and installing from many threads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import wscodec
import wscodec.integrations as integrations
from wscodec.integrations import _autoinstall

from .integration_helpers import encode, require_library, toggle_during

SRC = Path(wscodec.__file__).resolve().parents[1]
PTH = Path(integrations.__file__).with_name("wscodec-auto.pth")


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    integrations.uninstall()
    yield
    integrations.uninstall()


def run_python(code: str, backend: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter whose site dir ``tmp_path`` holds our .pth (as the wheel
    installs it), with wscodec importable from the source tree."""
    site_dir = tmp_path / "site"
    site_dir.mkdir(exist_ok=True)
    shutil.copy(PTH, site_dir / PTH.name)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WSCODEC_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(SRC)] + [p for p in sys.path if p.endswith("site-packages")])
    environ["WSCODEC_AUTO_INSTALL_CODEC"] = backend
    environ.update(env)
    prelude = "import site, sys; site.addsitedir(%r)\n" % str(site_dir)
    return subprocess.run(
        [sys.executable, "-c", prelude + code], env=environ, capture_output=True, text=True, timeout=120
    )


def test_pth_is_one_import_line() -> None:
    lines = PTH.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("import ")


def test_switch_off_imports_nothing(backend: types.SimpleNamespace, tmp_path: Path) -> None:
    for value in (None, "", "0", "no"):
        env = {} if value is None else {"WSCODEC_AUTO_INSTALL": value}
        r = run_python("print('wscodec' in sys.modules)", backend.name, tmp_path, **env)
        assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "False", "")


def test_switch_on_installs_at_first_import(backend: types.SimpleNamespace, tmp_path: Path) -> None:
    require_library("wsproto", "wsproto")
    require_library("websockets", "websockets")
    code = (
        "import wscodec.integrations as w\n"
        "print('wsproto' in sys.modules, 'websockets' in sys.modules, sorted(w._pending()))\n"
        "import wsproto\n"
        "print(w.installed())\n"
        "from websockets.frames import Frame\n"
        "print(sorted(w.installed().items()))\n"
    )
    r = run_python(code, backend.name, tmp_path, WSCODEC_AUTO_INSTALL="1")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    # every integration whose library is installed is scheduled, but those installed only by name
    automatic = sorted(set(integrations.available()) - integrations.EXPLICIT_ONLY)
    assert lines[0] == "False False %s" % automatic
    assert lines[1] == "{'wsproto': %r}" % backend.name
    assert lines[2] == "[('websockets', %r), ('wsproto', %r)]" % (backend.name, backend.name)


def test_switch_with_a_list_of_names(backend: types.SimpleNamespace, tmp_path: Path) -> None:
    require_library("wsproto", "wsproto")
    require_library("websockets", "websockets")
    code = "import wsproto, websockets.frames, wscodec.integrations as w; print(sorted(w.installed()))"
    r = run_python(code, backend.name, tmp_path, WSCODEC_AUTO_INSTALL="wsproto")
    assert (r.returncode, r.stdout.strip()) == (0, "['wsproto']"), r.stderr


def test_switch_without_the_compiled_codec_installs_nothing(tmp_path: Path) -> None:
    require_library("wsproto", "wsproto")
    code = "import wsproto, wscodec.integrations as w; print(w.installed())"
    r = run_python(code, "", tmp_path, WSCODEC_AUTO_INSTALL="1", WSCODEC_NO_EXTENSIONS="1")
    assert (r.returncode, r.stdout.strip()) == (0, "{}")
    assert "compiled codec is not in use" in r.stderr


def test_switch_never_breaks_startup(tmp_path: Path) -> None:
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    shutil.copy(PTH, site_dir / PTH.name)
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environ["WSCODEC_AUTO_INSTALL"] = "1"
    code = "import site; site.addsitedir(%r); print('started')" % str(site_dir)
    # wscodec is not importable here: no PYTHONPATH, and -S keeps the interpreter's own
    # site-packages (where wscodec may be installed) off sys.path; only site_dir is added.
    r = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], env=environ, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and r.stdout.strip() == "started"
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("wscodec: WSCODEC_AUTO_INSTALL ignored")


def test_selection_values() -> None:
    assert _autoinstall.selection("1") is None
    assert _autoinstall.selection(" ALL ") is None
    assert _autoinstall.selection("off") == []
    assert _autoinstall.selection("wsproto, websockets") == ["wsproto", "websockets"]
    with pytest.warns(RuntimeWarning, match="nope"):
        assert _autoinstall.selection("nope,wsproto") == ["wsproto"]


def test_auto_installs_what_is_importable(backend: types.SimpleNamespace) -> None:
    expected = [name for name in integrations.available() if name not in integrations.EXPLICIT_ONLY]
    assert integrations.auto(codec=backend) == expected
    assert integrations.installed() == {name: backend.name for name in expected}
    assert sorted(integrations.uninstall()) == sorted(expected)
    assert integrations.installed() == {}


def test_explicit_only_integrations_are_installed_when_named(backend: types.SimpleNamespace) -> None:
    # aiohttp's integration is not measurably faster end to end: never installed unasked
    assert integrations.EXPLICIT_ONLY == {"aiohttp"}
    require_library("aiohttp", "aiohttp")
    assert "aiohttp" not in integrations.auto(codec=backend)
    assert "aiohttp" not in integrations.installed()
    assert integrations.auto("aiohttp", codec=backend) == ["aiohttp"]
    assert integrations.installed()["aiohttp"] == backend.name
    integrations.uninstall()


def test_auto_warns_and_skips_unsupported(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    wsproto = require_library("wsproto", "wsproto")
    monkeypatch.setattr(wsproto, "__version__", "0.9.0")
    with pytest.warns(RuntimeWarning, match="wsproto integration not installed"):
        names = integrations.auto(codec=backend)
    assert "wsproto" not in names and "wsproto" not in integrations.installed()


def test_unknown_names_are_an_error() -> None:
    with pytest.raises(ValueError, match="unknown integration"):
        integrations.install("no_such_library")


def test_uninstall_cancels_a_pending_lazy_install(backend: types.SimpleNamespace) -> None:
    require_library("wsproto", "wsproto")
    # The libraries are imported already in this process, so schedule by hand.
    integrations._hook.schedule("wsproto", "not_a_real_package_xyz", lambda: None)
    assert "wsproto" in integrations._pending()
    integrations.uninstall("wsproto")
    assert integrations._pending() == []
    assert integrations._hook not in sys.meta_path


def test_concurrent_install_happens_once(backend: types.SimpleNamespace) -> None:
    from wscodec.integrations import wsproto as integration

    require_library("wsproto", "wsproto")
    barrier = threading.Barrier(8)
    results: List[bool] = []

    def worker() -> None:
        barrier.wait()
        results.append(integration.install(codec=backend))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert integration.uninstall() is True
    assert integration.uninstall() is False


def test_install_uninstall_from_many_threads_while_traffic_flows(backend: types.SimpleNamespace) -> None:
    """Toggling from 4 threads while 2 threads parse: every parse gives wsproto's own result, and
    afterwards the originals are back."""
    fp = require_library("wsproto.frame_protocol", "wsproto")
    websockets_frames = require_library("websockets.frames", "websockets")
    originals: Dict[Any, Any] = {
        (owner, name): owner.__dict__[name]
        for owner, name in [
            (fp.FrameDecoder, "process_buffer"),
            (fp.FrameProtocol, "_serialize_frame"),
            (websockets_frames.Frame, "parse"),
            (websockets_frames.Close, "parse"),
        ]
    }
    stream = b"".join(
        encode(0x1, ("é%d" % i).encode() * 30, fin=True, key=bytes((i, 2, 3, 4))) for i in range(30)
    )

    def parse() -> List[Any]:
        proto = fp.FrameProtocol(client=False, extensions=[])
        out: List[Any] = []
        for i in range(0, len(stream), 97):
            proto.receive_bytes(stream[i : i + 97])
            out.extend(proto.received_frames())
        return out

    errors = toggle_during(parse, lambda: integrations.install(codec=backend), integrations.uninstall)
    assert errors == []
    integrations.uninstall()
    assert integrations.installed() == {}
    for (owner, name), original in originals.items():
        assert owner.__dict__[name] is original
