"""The package's layout rules (docs/architecture.md), read from the source with ``ast``.

- Layers: a module imports other top-level packages of mfsr only from layers below its
  own (``LAYERS``), so data flows one way and no layer reaches back up.
- No import circles between modules.
- No function-level imports of mfsr modules: what a module needs is at its top.
- No ``_private`` name imported from another module.
- Small modules: none over ``MAX_LINES`` lines; few modules flat at the top of mfsr/.
"""
import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mfsr"

# Rank of each top-level package or module of mfsr, bottom first. A module may import
# its own top-level package and any of a lower rank, nothing else.
LAYERS = {
    "core": 0,           # backend, device cache, validation, colour, Motion
    "kernels": 1,        # reference, Numba and CuPy kernel sets
    "degradation": 2,    # the physics: PSF, noise, codec, CFA, the operator A = D B W
    "registration": 3,   # motion between frames, confidence
    "priors": 3,         # regularisers and denoisers
    "solvers": 4,        # algorithms that know A, a data term and a prior
    "pipeline": 5,       # reconstruct(): options, method builders, raw bursts
    "grading": 6,        # colour stages on plain arrays: enhance, transfer, tone map
    "io": 6,             # frames, video files (PyAV), raw files
    "metrics": 6,        # PSNR / SSIM
    "video": 7,          # the video jobs: recursion, windows, tiles, frame loop, Dask
    "bench": 8,          # the benchmark harness
    "demo": 8,
    "cli": 9,            # the mfsr command
}
MAX_LINES = 800
MAX_TOP_MODULES = 8      # .py files directly in mfsr/, __init__ included


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name):
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _imports(path):
    """``(target module, imported name or None, lineno, inside a function)`` of every
    import of an mfsr module in ``path``."""
    tree = ast.parse(path.read_text())
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function |= {id(n) for n in ast.walk(node) if n is not node}
    out = []
    for node in ast.walk(tree):
        inside = id(node) in in_function
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno, inside) for a in node.names
                    if a.name.split(".")[0] == "mfsr"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "mfsr":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if _is_module(sub):
                    out.append((sub, None, node.lineno, inside))
                else:
                    out.append((target, alias.name, node.lineno, inside))
    return out


SOURCES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = {_module_name(p): _imports(p) for p in SOURCES}


def _layer(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_top_level_package_has_a_layer():
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in SOURCES}
    tops -= {"__init__", "__main__", "weights"}
    assert tops <= set(LAYERS), sorted(tops - set(LAYERS))


def test_no_module_imports_a_layer_above_its_own():
    bad = []
    for module, imports in IMPORTS.items():
        own = _layer(module)
        if own is None:                 # mfsr/__init__.py gathers the public API
            continue
        for target, _, line, _ in imports:
            other = _layer(target)
            if other is not None and other != own and LAYERS[other] >= LAYERS[own]:
                bad.append(f"{module}:{line} imports {target} (layer {other}, "
                           f"rank {LAYERS[other]} >= {own}'s {LAYERS[own]})")
    assert not bad, "\n".join(bad)


def test_no_import_circles():
    graph = {m: {t for t, _, _, _ in imports if t != m} for m, imports in IMPORTS.items()}
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):       # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not circles, circles


def test_no_function_level_imports_of_mfsr():
    bad = [f"{m}:{line} imports {t}" for m, imports in IMPORTS.items()
           for t, _, line, inside in imports if inside]
    assert not bad, "\n".join(bad)


def test_no_private_names_imported_across_modules():
    bad = [f"{m}:{line} imports {name} from {t}" for m, imports in IMPORTS.items()
           for t, name, line, _ in imports
           if name is not None and name.startswith("_") and not name.startswith("__")]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_are_small(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines (at most {MAX_LINES})"


def test_few_modules_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top


def test_the_rules_catch_a_violation(tmp_path, monkeypatch):
    """The checks can fail: a solver importing the pipeline, inside a function."""
    fake = tmp_path / "mfsr"
    (fake / "solvers").mkdir(parents=True)
    (fake / "pipeline").mkdir()
    for p in ("__init__.py", "solvers/__init__.py", "pipeline/__init__.py"):
        (fake / p).write_text("")
    bad = fake / "solvers" / "bad.py"
    bad.write_text("def f():\n    from ..pipeline import _hidden\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    [(target, name, line, inside)] = _imports(bad)
    assert (target, name, line, inside) == ("mfsr.pipeline", "_hidden", 2, True)
    assert LAYERS[_layer(target)] >= LAYERS[_layer("mfsr.solvers.bad")]
