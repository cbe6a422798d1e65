"""Run the Python blocks of a documentation page and check (or refresh) the output shown.

The pages that show output (``tutorial.md``) are written so that a reader can paste their
blocks verbatim. This script does exactly that, so that the numbers on the page are the
numbers the code prints::

    python docs/run_page.py docs/tutorial.md              # check every section
    python docs/run_page.py docs/tutorial.md --update     # paste fresh outputs in
    python docs/run_page.py docs/tutorial.md --section "Big Buck Bunny"

Conventions of a page:

- every ```` ```python ```` fence is run, in order, in one namespace, from the current
  directory (run from the repository root, as the page says);
- a ```` ```text ```` fence that follows a python fence (blank lines allowed) is the
  output that block prints;
- ``## `` headings cut the page into sections; ``--section`` runs only the sections whose
  title contains the given text (each section named that way must then be self-contained).

Output is compared token by token: text must match exactly, integers must match exactly,
and a decimal number may differ by ``tolerance`` units of its last printed digit (default
3: ``28.84`` matches 28.81 to 28.87), which absorbs the float rounding differences between
CPU kernels without hiding a changed result.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def parse(text):
    """Split a Markdown page into sections of ``(code, expected, span)`` blocks.

    Parameters
    ----------
    text : str
        The page.

    Returns
    -------
    list of (str, list)
        ``(section title, blocks)``; each block is ``(code, expected_output or None,
        (start, end) character span of the output fence's body or None)``.
    """
    headings = [(m.start(), m.group(1).strip())
                for m in re.finditer(r"^## +(.+)$", text, re.M)]
    fences = list(FENCE.finditer(text))
    sections = {}
    order = []
    for i, f in enumerate(fences):
        if f.group(1) != "python":
            continue
        title = ""
        for pos, name in headings:
            if pos < f.start():
                title = name
        if title not in sections:
            sections[title] = []
            order.append(title)
        expected, span = None, None
        if i + 1 < len(fences):
            nxt = fences[i + 1]
            if nxt.group(1) == "text" and not text[f.end(): nxt.start()].strip():
                expected, span = nxt.group(2), nxt.span(2)
        sections[title].append((f.group(2), expected, span))
    return [(t, sections[t]) for t in order]


def _tokens(text):
    out, pos = [], 0
    for m in NUMBER.finditer(text):
        out.extend(text[pos: m.start()].split())
        out.append(m.group(0))
        pos = m.end()
    out.extend(text[pos:].split())
    return out


def compare(expected, actual, tolerance=3):
    """Return None when ``actual`` matches ``expected``, else a message saying where not.

    Parameters
    ----------
    expected, actual : str
        Printed outputs.
    tolerance : float
        Allowed difference of a decimal number, in units of its last printed digit.

    Returns
    -------
    str or None
    """
    a, b = _tokens(expected), _tokens(actual)
    if len(a) != len(b):
        return f"expected {len(a)} tokens, got {len(b)}:\n--- expected\n{expected}--- got\n{actual}"
    for x, y in zip(a, b):
        if x == y:
            continue
        if NUMBER.fullmatch(x) and NUMBER.fullmatch(y) and "." in x and "e" not in x.lower():
            unit = 10.0 ** -len(x.split(".")[1])
            if abs(float(x) - float(y)) <= tolerance * unit + 1e-12:
                continue
        return f"{x!r} != {y!r}:\n--- expected\n{expected}--- got\n{actual}"
    return None


def run(path, sections=None, update=False, tolerance=3, log=print):
    """Run a page's python blocks; check or rewrite their outputs.

    Parameters
    ----------
    path : str
        Markdown page.
    sections : list of str, optional
        Run only sections whose title contains one of these strings.
    update : bool
        Write the fresh outputs into the page instead of checking them.
    tolerance : float
        See :func:`compare`.
    log : callable
        Progress messages.

    Returns
    -------
    list of str
        Mismatch messages (empty when the page is up to date).
    """
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    namespace = {"__name__": "__main__"}
    problems, edits = [], []
    for title, blocks in parse(text):
        if sections and not any(s in title for s in sections):
            continue
        log(f"## {title}")
        for code, expected, span in blocks:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                exec(compile(code, f"{path} [{title}]", "exec"), namespace)
            actual = buf.getvalue()
            if expected is None:
                if actual.strip():
                    problems.append(f"[{title}] block prints output but the page shows none:"
                                    f"\n{actual}")
                continue
            if update:
                edits.append((span, actual))
                continue
            msg = compare(expected, actual, tolerance)
            if msg:
                problems.append(f"[{title}] {msg}")
    if update and edits:
        for (start, end), actual in sorted(edits, reverse=True):
            text = text[:start] + actual + text[end:]
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        log(f"updated {len(edits)} output blocks in {path}")
    return problems


def main(argv=None):
    """Command line: ``python docs/run_page.py PAGE [--section TEXT] [--update]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("page")
    parser.add_argument("--section", action="append", help="run only these sections")
    parser.add_argument("--update", action="store_true", help="rewrite the outputs shown")
    parser.add_argument("--tolerance", type=float, default=3)
    args = parser.parse_args(argv)
    problems = run(args.page, args.section, args.update, args.tolerance,
                   log=lambda m: print(m, file=sys.stderr))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
