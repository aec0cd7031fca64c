"""The Python examples of the package README run, in order, against the
server under test (blocks after a `<!-- test: skip … -->` line are
signatures or loops that never end)."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re
import unittest

from . import support

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def blocks() -> list:
    out, cur, skip, lang = [], None, False, None
    start = 0
    for n, line in enumerate(README.read_text(encoding="utf-8").split("\n"), 1):
        if cur is None:
            if line.startswith("<!-- test: skip"):
                skip = True
            elif line.startswith("```"):
                lang, cur, start = line[3:].strip(), [], n + 1
            elif line.strip():
                skip = False
        elif line.startswith("```"):
            if lang == "python" and not skip:
                out.append((start, "\n".join(cur)))
            cur, skip = None, False
        else:
            cur.append(line)
    return out


class ReadmeTest(unittest.TestCase):
    def test_examples_run(self) -> None:
        url = support.need(support.URL, "CORTEX_URL")
        found = blocks()
        self.assertGreaterEqual(len(found), 3)
        ns: dict = {}
        for i, (start, code) in enumerate(found):
            code = re.sub(r'Client\("http://127\.0\.0\.1:8080", token="…"\)',
                          f"Client({url!r}, token={support.TOKEN!r})", code)
            out = io.StringIO()
            with self.subTest(line=start), contextlib.redirect_stdout(out):
                exec(compile(code, f"README.md:{start}", "exec"), ns)
            if i == 0:  # the quick start prints what its comment says
                want = re.search(r"print\(.*\)\s+# (.*)", code)
                self.assertIsNotNone(want)
                self.assertEqual(out.getvalue().strip(), want.group(1).strip())
        if "c" in ns:
            ns["c"].close()


if __name__ == "__main__":
    unittest.main()
