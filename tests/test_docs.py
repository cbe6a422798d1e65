"""The documentation builds without warnings, its pages show what their code prints, and
the examples in the public docstrings run.

- ``test_docs_build``: Sphinx with ``-W`` (warnings are errors) into a temporary folder;
  skipped when Sphinx and the extensions of ``docs/conf.py`` are not installed
  (``pip install -e ".[docs]"``; the ``test`` extra installs them too).
- The tutorial's synthetic sections and the model page's checks are re-run with
  ``docs/run_page.py`` and their printed output compared with the page.
- The measurement blocks that take minutes (intro, model, methods tables; the tutorial's
  real-data section, which needs ``../shared/data``) run only with ``MFSR_DOCS_FULL=1``.
"""
from __future__ import annotations

import doctest
import importlib
import importlib.util
import os
import pkgutil
import subprocess
import sys

import pytest

import mfsr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
DATA = os.environ.get("MFSR_DATA", os.path.join(ROOT, "..", "shared", "data"))
FULL = os.environ.get("MFSR_DOCS_FULL") == "1"
SPHINX_MISSING = [m for m in ("sphinx", "myst_parser", "numpydoc")
                  if importlib.util.find_spec(m) is None]


def _run_page_module():
    spec = importlib.util.spec_from_file_location("mfsr_docs_run_page",
                                                  os.path.join(DOCS, "run_page.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_page = _run_page_module()


@pytest.mark.skipif(bool(SPHINX_MISSING),
                    reason=f"documentation tools not installed: {', '.join(SPHINX_MISSING)} "
                           '(pip install -e ".[docs]")')
def test_docs_build(tmp_path):
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), DOCS, str(out)],
        capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in ("index", "intro", "model", "methods", "tutorial", "api/index"):
        assert (out / f"{page}.html").exists(), page
    # numpydoc rendered the docstrings' sections, and the API tables link to them
    api = (out / "api" / "mfsr.html").read_text(encoding="utf-8")
    assert 'id="mfsr.reconstruct"' in api
    for section in ("Parameters", "Returns", "Examples"):
        assert section in api
    assert 'href="#mfsr.reconstruct"' in api
    solvers = (out / "api" / "solvers.html").read_text(encoding="utf-8")
    for name in mfsr.solvers.__all__:
        if callable(getattr(mfsr.solvers, name)):
            assert f'id="mfsr.solvers.{name}"' in solvers, name


def test_api_pages_cover_public_subpackages():
    """Every public subpackage has an API page with a summary table and its members."""
    public = [n for n in mfsr.__all__ if type(getattr(mfsr, n)).__name__ == "module"]
    assert public, "mfsr.__all__ lists no subpackage"
    for name in public + ["kernels"]:
        path = os.path.join(DOCS, "api", f"{name}.rst")
        assert os.path.exists(path), f"docs/api/{name}.rst is missing"
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        assert f".. mfsr-summary:: mfsr.{name}" in text
        assert f".. automodule:: mfsr.{name}" in text
        with open(os.path.join(DOCS, "api", "index.rst"), encoding="utf-8") as fh:
            assert f"\n   {name}\n" in fh.read(), f"{name} not in docs/api/index.rst"


def test_compare_tolerates_rounding_only():
    compare = run_page.compare
    assert compare("Y-PSNR 28.84 dB  SSIM 0.9151\n", "Y-PSNR 28.86 dB  SSIM 0.9153\n") is None
    assert compare("Y-PSNR 28.84 dB\n", "Y-PSNR 28.90 dB\n") is not None
    assert compare("SSIM 0.9151\n", "SSIM 0.9161\n") is not None
    assert compare("(7, 128, 128, 3)\n", "(7, 128, 129, 3)\n") is not None
    assert compare("mfsr 30.00 dB\n", "bicubic 30.00 dB\n") is not None
    assert compare("a 1.0\n", "a 1.0\nb 2.0\n") is not None


def test_parse_pairs_code_with_its_output():
    page = ("# T\n\n## One\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\n"
            "text\n\n```text\nnot an output\n```\n\n## Two\n\n```python\nx = 2\n```\n")
    sections = run_page.parse(page)
    assert [t for t, _ in sections] == ["One", "Two"]
    (code, expected, span), = sections[0][1]
    assert code == "print(1)\n" and expected == "1\n" and page[span[0]: span[1]] == "1\n"
    assert sections[1][1][0][1] is None


def _check_page(page, sections, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MFSR_DATA", os.path.abspath(DATA))
    problems = run_page.run(os.path.join(DOCS, page), sections=sections, log=lambda m: None)
    assert not problems, "\n\n".join(problems)


def test_tutorial_synthetic_sections_print_what_the_page_shows(tmp_path, monkeypatch):
    _check_page("tutorial.md", ["1.", "2.", "3.", "4."], tmp_path, monkeypatch)
    assert (tmp_path / "out" / "tutorial" / "hr.png").exists()
    assert len(os.listdir(tmp_path / "out" / "tutorial" / "frames")) == 7


def test_model_page_checks_print_what_the_page_shows(tmp_path, monkeypatch):
    _check_page("model.md", ["Motion", "Sampling phase", "adjoint pair"], tmp_path,
                monkeypatch)


@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="minutes of measurements: set MFSR_DOCS_FULL=1")
@pytest.mark.parametrize("page", ["intro.md", "model.md", "methods.md", "tutorial.md"])
def test_full_page_prints_what_the_page_shows(page, tmp_path, monkeypatch):
    if page == "tutorial.md" and not os.path.isdir(os.path.join(DATA, "bigbuckbunny")):
        pytest.skip(f"evaluation data not found in {DATA} (set MFSR_DATA)")
    _check_page(page, None, tmp_path, monkeypatch)


def _mfsr_modules():
    names = ["mfsr"]
    for info in pkgutil.walk_packages(mfsr.__path__, "mfsr."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _mfsr_modules())
def test_docstring_examples_run(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # e.g. the CuPy kernels on a machine without CuPy
        pytest.skip(f"{name} does not import here: {exc}")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in finder.find(module, name):
        if test.examples:
            runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


@pytest.mark.skipif(bool(SPHINX_MISSING), reason="documentation tools not installed")
def test_toctree_follows_the_pages_that_exist(tmp_path):
    spec = importlib.util.spec_from_file_location("mfsr_docs_conf", os.path.join(DOCS, "conf.py"))
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    toc = "```{toctree}\n:maxdepth: 2\n\nintro\nresults\napi/index\n```\n"
    # a page nobody listed joins before the API reference
    out = conf._complete_toctree(toc, ["intro", "new_page", "results"], before="api/index")
    assert out.splitlines()[3:7] == ["intro", "results", "new_page", "api/index"]
    rst = "toc\n\n.. toctree::\n   :maxdepth: 1\n\n   mfsr\n   kernels\n"
    out = conf._complete_toctree(rst, ["kernels", "mfsr", "zeta"])
    assert out.endswith("   kernels\n   zeta\n")
    assert conf._complete_toctree(rst, ["kernels", "mfsr"]) == rst
    # links to optional pages that do not exist yet become plain text
    app = type("App", (), {"srcdir": str(tmp_path)})()  # a docs folder without them
    source = ["See {doc}`Results <results>`, {doc}`video` and :doc:`../learned_prior`; "
              "{doc}`model` stays."]
    conf._adjust_pages(app, "intro", source)
    assert source[0] == "See *Results*, *video* and *learned prior*; {doc}`model` stays."

