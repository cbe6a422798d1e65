"""Sphinx configuration of the mfsr documentation.

Build (warnings are errors, as in CI's ``tests/test_docs.py``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""
from __future__ import annotations

import importlib
import inspect
import os
import re
import sys

from docutils.statemachine import StringList
from sphinx.ext.autosummary import Autosummary

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root, for an uninstalled checkout

import mfsr  # noqa: E402

project = "mfsr"
author = "the mfsr authors"
copyright = "the mfsr authors, BSD-3-Clause"
version = release = mfsr.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "README.md"]

# Markdown pages: $...$ / $$...$$ maths, ``{eval-rst}`` blocks, heading anchors for links.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# API reference: autodoc renders the numpydoc docstrings; autosummary makes the tables on
# docs/api/*.rst (no stub files are generated, so a build never writes into docs/).
autosummary_generate = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"          # the numpydoc "Parameters" sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"mfsr {release}"
html_static_path = []

# Pages written alongside these by other parts of the project. While one does not exist yet,
# its line in index.md's table of contents is dropped and a {doc}`page` link to it becomes
# plain text, so the build passes with -W (warnings as errors) at every stage.
OPTIONAL_PAGES = ("video", "results", "speed", "gpu", "btvl1", "learned_prior")


def _pages(folder):
    """Names of the Markdown / reST pages in a folder (no extension)."""
    return sorted(os.path.splitext(f)[0] for f in os.listdir(folder)
                  if f.endswith((".md", ".rst")) and f != "README.md")


def _complete_toctree(text, pages, before=None):
    """Add the ``pages`` a toctree does not list yet: before the entry ``before``, or
    after its last entry, with that entry's indentation."""
    lines = text.splitlines(keepends=True)
    listed = {line.strip() for line in lines}
    extra = [p for p in pages if p not in listed]
    if not extra:
        return text
    entries = [i for i, line in enumerate(lines) if line.strip() in pages]
    if before is not None and before in listed:
        at = next(i for i, line in enumerate(lines) if line.strip() == before)
    else:
        at = entries[-1] + 1
    ref = lines[entries[-1]] if entries else "\n"
    indent = ref[: len(ref) - len(ref.lstrip())]
    return "".join(lines[:at] + [f"{indent}{p}\n" for p in extra] + lines[at:])


def _adjust_pages(app, docname, source):
    """Keep the tables of contents in step with the pages that exist."""
    text = source[0]
    missing = [p for p in OPTIONAL_PAGES
               if not any(os.path.exists(os.path.join(app.srcdir, p + ext))
                          for ext in (".md", ".rst"))]
    if docname == root_doc:
        text = "".join(line for line in text.splitlines(keepends=True)
                       if line.strip() not in missing)
        # a page someone added without listing it joins the contents before the API
        text = _complete_toctree(text, [p for p in _pages(app.srcdir) if p != root_doc],
                                 before="api/index")
    elif docname == "api/index":
        pages = [p for p in _pages(os.path.join(app.srcdir, "api")) if p != "index"]
        text = _complete_toctree(text, pages)
    for page in missing:  # {doc}`page`, {doc}`title <page>`, :doc:`../page` -> plain text
        pattern = r"(\{doc\}|:doc:)`(?:([^`<]*?)\s*<)?(?:\.\./)?%s>?`" % re.escape(page)
        text = re.sub(pattern, lambda m: "*%s*" % (m.group(2) or page.replace("_", " ")), text)
    source[0] = text


def public_names(module):
    """Functions and classes a module exports: its ``__all__``, else those it defines."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items() if not n.startswith("_")
                 and getattr(obj, "__module__", None) == module.__name__]
    return [n for n in names
            if inspect.isclass(getattr(module, n)) or inspect.isfunction(getattr(module, n))]


class ModuleSummary(Autosummary):
    """``.. mfsr-summary:: module``: an autosummary table of the module's public names,
    read from the module itself so that the API pages never fall behind the code."""

    required_arguments = 1
    optional_arguments = 0

    def run(self):
        name = self.arguments[0]
        module = importlib.import_module(name)
        self.content = StringList([f"~{name}.{n}" for n in public_names(module)],
                                  source=f"<summary of {name}>")
        self.arguments = []
        return super().run()


def setup(app):
    app.connect("source-read", _adjust_pages)
    app.add_directive("mfsr-summary", ModuleSummary)
