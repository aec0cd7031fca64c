"""The package's PEP 517 build backend: standard library only, so that
``pip install clients/python`` needs nothing from a package index (no
setuptools, no wheel) — it installs offline, anywhere pip runs.

It builds a pure-Python wheel (py3-none-any) of ``cortex_client/``, an sdist,
and an editable wheel (PEP 660: a .pth file pointing at this folder). The
metadata comes from pyproject.toml's ``[project]`` table, of which it reads the
simple ``key = "value"`` lines (Python 3.9 has no tomllib).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "cortex_client"


def _project() -> Dict[str, str]:
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if m is None:
        raise RuntimeError("pyproject.toml has no [project] table")
    out = {}
    for k, v in re.findall(r'^([A-Za-z-]+)\s*=\s*"([^"]*)"\s*$', m.group(1), re.M):
        out[k] = v
    for k in ("name", "version", "description", "requires-python"):
        if k not in out:
            raise RuntimeError(f"pyproject.toml [project] lacks {k}")
    return out


def metadata() -> str:
    p = _project()
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {p['name']}",
        f"Version: {p['version']}",
        f"Summary: {p['description']}",
        "License: Apache-2.0",
        f"Requires-Python: {p['requires-python']}",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Typing :: Typed",
        "Description-Content-Type: text/markdown",
    ]
    return "\n".join(lines) + "\n\n" + readme


def _dist(p: Dict[str, str]) -> str:
    return re.sub(r"[-_.]+", "_", p["name"]).lower() + "-" + p["version"]


def _files() -> List[Tuple[str, str]]:
    """(archive name, path) of the package's files."""
    out = []
    pkg = os.path.join(ROOT, PACKAGE)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py") or name == "py.typed":
            out.append((f"{PACKAGE}/{name}", os.path.join(pkg, name)))
    return out


def _wheel(directory: str, entries: List[Tuple[str, bytes]]) -> str:
    p = _project()
    dist = _dist(p)
    info = f"{dist}.dist-info"
    entries = entries + [
        (f"{info}/METADATA", metadata().encode("utf-8")),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: cortex_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = []
    for name, data in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    entries.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    filename = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, filename), "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            zi = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return filename


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# --- PEP 517 / PEP 660 hooks ---------------------------------------------------


def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: Optional[dict] = None) -> List[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: Optional[dict] = None,
                metadata_directory: Optional[str] = None) -> str:
    return _wheel(wheel_directory, [(n, _read(p)) for n, p in _files()])


def build_editable(wheel_directory: str, config_settings: Optional[dict] = None,
                   metadata_directory: Optional[str] = None) -> str:
    return _wheel(wheel_directory, [(f"{PACKAGE}.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory: str, config_settings: Optional[dict] = None) -> str:
    p = _project()
    dist = _dist(p)
    filename = f"{dist}.tar.gz"
    names = ["pyproject.toml", "README.md", "_build/cortex_build.py"] + [n for n, _ in _files()]
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as t:
        def add(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(f"{dist}/{name}")
            ti.size, ti.mode, ti.mtime = len(data), 0o644, int(time.time())
            t.addfile(ti, io.BytesIO(data))

        for n in names:
            add(n, _read(os.path.join(ROOT, n)))
        add("PKG-INFO", metadata().encode("utf-8"))
    return filename
