"""The package runs on Python 3.9 (pyproject's requires-python): its syntax
is checked against 3.9's grammar here, whatever Python runs the suite, and
it imports nothing outside the standard library."""

from __future__ import annotations

import ast
import pathlib
import sys
import unittest

PKG = pathlib.Path(__file__).resolve().parent.parent / "cortex_client"


class CompatTest(unittest.TestCase):
    def test_python_39_syntax(self) -> None:
        for f in sorted(PKG.glob("*.py")):
            with self.subTest(file=f.name):
                ast.parse(f.read_text(encoding="utf-8"), filename=str(f), feature_version=(3, 9))

    def test_standard_library_only(self) -> None:
        stdlib = getattr(sys, "stdlib_module_names", None)
        if stdlib is None:
            self.skipTest("sys.stdlib_module_names is Python 3.10+")
        for f in sorted(PKG.glob("*.py")):
            tree = ast.parse(f.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for n in names:
                    top = n.split(".")[0]
                    self.assertIn(top, stdlib | {"__future__"}, f"{f.name} imports {n}")

    def test_typed_marker(self) -> None:
        self.assertTrue((PKG / "py.typed").exists())


if __name__ == "__main__":
    unittest.main()
