"""The package builds and installs with nothing but the standard library:
the in-tree build backend's wheel holds the whole package with a correct
RECORD and imports from the wheel itself; pip (when this Python has it)
installs the folder without a package index."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_build"))
import cortex_build  # noqa: E402

import cortex_client  # noqa: E402


class PackageTest(unittest.TestCase):
    def test_wheel(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            name = cortex_build.build_wheel(d)
            self.assertEqual(name, f"cortex_client-{cortex_client.__version__}-py3-none-any.whl")
            path = os.path.join(d, name)
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
                for f in (ROOT / "cortex_client").iterdir():
                    if f.suffix == ".py" or f.name == "py.typed":
                        self.assertIn(f"cortex_client/{f.name}", names)
                info = f"cortex_client-{cortex_client.__version__}.dist-info"
                meta = z.read(f"{info}/METADATA").decode()
                self.assertIn(f"Version: {cortex_client.__version__}\n", meta)
                self.assertIn("Requires-Python: >=3.9\n", meta)
                rows = list(csv.reader(io.StringIO(z.read(f"{info}/RECORD").decode())))
                self.assertEqual({r[0] for r in rows}, names)
                for file, digest, size in rows:
                    if not digest:
                        continue
                    data = z.read(file)
                    want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                    self.assertEqual((digest, int(size)), (want, len(data)), file)
            # A pure-Python wheel imports from the zip itself.
            out = subprocess.run(
                [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import cortex_client as c; "
                 "print(c.__file__, c.Client.__name__)", path],
                cwd=d, capture_output=True, text=True, timeout=60, check=True,
            ).stdout
            self.assertIn(name, out)

    def test_sdist(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            name = cortex_build.build_sdist(d)
            with tarfile.open(os.path.join(d, name)) as t:
                names = set(t.getnames())
            top = name[: -len(".tar.gz")]
            for want in ("pyproject.toml", "README.md", "PKG-INFO", "_build/cortex_build.py", "cortex_client/_client.py"):
                self.assertIn(f"{top}/{want}", names)

    def test_pip_install_offline(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--no-index", "--no-cache-dir", "--quiet",
                 "--disable-pip-version-check", "--target", d, str(ROOT)],
                capture_output=True, text=True, timeout=300,
            )
            if "No module named pip" in r.stderr:
                self.skipTest("this Python has no pip")
            if "externally-managed-environment" in r.stderr:
                self.skipTest("this Python's pip refuses installs (PEP 668)")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(os.path.exists(os.path.join(d, "cortex_client", "py.typed")))


if __name__ == "__main__":
    unittest.main()
