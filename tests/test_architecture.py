"""The layers of docs/architecture.md hold: no import runs the wrong way, no import cycle, light imports stay light.

Imports are read from the source (every ``import`` statement, including the ones inside functions), so a
lazy import that runs the wrong way fails here even if no test happens to execute it.
"""

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "gahb")

# layer -> layers it may import (besides itself). Third-party rules are checked separately.
ALLOWED = {
    "base": set(),
    "core": {"base"},
    "datasets": {"base"},
    "estimators": {"base", "core"},
    "report": {"base"},
    "experiments": {"base", "core", "datasets", "estimators", "report"},
    "cli": {"base", "core", "datasets", "estimators", "report", "experiments"},
    "root": {"base", "core", "datasets", "estimators", "report", "experiments", "cli"},
}
FORBIDDEN_THIRD_PARTY = {"core": {"sklearn", "matplotlib"}, "datasets": {"torch", "matplotlib"},
                         "estimators": {"matplotlib"}, "base": {"torch", "sklearn", "matplotlib"}}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if module in ("gahb", "gahb.__main__"):
        return "root" if module == "gahb" else "cli"
    sub = parts[1]
    if sub in ("_checks", "_files", "exceptions"):  # exceptions.py imports nothing: every layer may raise its warnings
        return "base"
    if sub in ("core", "datasets", "experiments", "cli", "report"):
        return sub
    return "estimators"  # denoiser, basis, optimal, metrics, model_selection, _utils, _sampling


def modules():
    for dirpath, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                yield (rel[: -len(".__init__")] if rel.endswith(".__init__") else rel), path


def imports_of(module: str, path: str, *, with_type_checking=False):
    """(imported module, line) for every import in the file; relative imports resolved."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    skip = set()
    if not with_type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            if mod in ("gahb", package) or (not node.module and node.level):
                # "from gahb import x" / "from . import x": x is a submodule or a name of the package
                for a in node.names:
                    sub = f"{mod}.{a.name}"
                    is_sub = os.path.exists(os.path.join(ROOT, *sub.split("."))) or \
                        os.path.exists(os.path.join(ROOT, *sub.split(".")) + ".py")
                    yield (sub if is_sub else mod), node.lineno
            else:
                yield mod, node.lineno


def _is_gahb_module(name):
    return name == "gahb" or name.startswith("gahb.")


def test_no_import_runs_the_wrong_way():
    bad = []
    for module, path in modules():
        src_layer = layer_of(module)
        for target, line in imports_of(module, path):
            top = target.split(".")[0]
            if top in FORBIDDEN_THIRD_PARTY.get(src_layer, ()):
                bad.append(f"{module}:{line} ({src_layer}) imports {target}")
            if not _is_gahb_module(target) or target == "gahb":
                if target == "gahb" and src_layer not in ("root", "cli"):  # the command shows __version__
                    bad.append(f"{module}:{line} imports the package root 'gahb' (import from the defining module)")
                continue
            dst_layer = layer_of(target)
            if dst_layer != src_layer and dst_layer not in ALLOWED[src_layer]:
                bad.append(f"{module}:{line} ({src_layer}) imports {target} ({dst_layer})")
    assert not bad, "imports against the layers of docs/architecture.md:\n" + "\n".join(bad)


def test_no_import_cycle():
    graph = {}
    names = dict(modules())
    for module, path in names.items():
        deps = set()
        for target, _ in imports_of(module, path):
            # "from gahb.x import y" may name a submodule gahb.x.y or an attribute of gahb.x
            while target not in names and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in names and target != module:
                deps.add(target)
        graph[module] = deps
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    # a package __init__ importing its own submodules is not a cycle unless a submodule imports it back
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _loaded_after(code):
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("code, absent", [
    ("import gahb", {"torch", "sklearn", "matplotlib", "gahb.experiments", "gahb.cli"}),
    ("import gahb; gahb.DiffusionDenoiser; gahb.JacobianEigenbasis; gahb.MemorizingDenoiser; gahb.TrainingSubset",
     {"matplotlib", "gahb.experiments", "gahb.cli", "gahb.report"}),
    ("import gahb.metrics", {"matplotlib", "gahb.experiments", "gahb.cli"}),
    ("import gahb.datasets", {"torch", "matplotlib"}),
    ("import gahb.core.nn, gahb.core.sampling, gahb.core.jacobian, gahb.core.operators, gahb.core.training",
     {"sklearn", "matplotlib", "gahb.denoiser", "gahb.metrics"}),
])
def test_light_imports_stay_light(code, absent):
    loaded = _loaded_after(code)
    assert not (loaded & absent), f"{code!r} loaded {sorted(loaded & absent)}"


def test_layer_rules_catch_a_wrong_way_import(tmp_path):
    # the checker itself must flag a core module importing the scikit-learn layer
    fake = tmp_path / "bad.py"
    fake.write_text("from gahb.denoiser import DiffusionDenoiser\nimport sklearn\n")
    found = list(imports_of("gahb.core.bad", str(fake)))
    assert [layer_of(t) for t, _ in found if _is_gahb_module(t)] == ["estimators"]
    assert "estimators" not in ALLOWED["core"] and "sklearn" in FORBIDDEN_THIRD_PARTY["core"]
