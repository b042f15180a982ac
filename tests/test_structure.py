"""The package's structure as a reviewer checks it: what imports what.

Layers, lowest first; a module may import its own layer or a lower one, never a higher one
(models/ never imports live/ or runs/; nothing below the top imports the demo or the CLI).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "livescope"
LAYERS = [
    {"livescope", "livescope.errors", "livescope.tfenv", "livescope.card"},
    {"livescope.data", "livescope.phantom", "livescope.cam"},
    {"livescope.models"},
    {"livescope.live"},
    {"livescope.runs"},
    {"livescope.recipes", "livescope.archive", "livescope.demo", "livescope.bench", "livescope.doctor",
     "livescope.cli"},
]


def _layer(module: str) -> int:
    parts = module.split(".")
    for depth in (2, 1):
        name = ".".join(parts[:depth])
        for i, layer in enumerate(LAYERS):
            if name in layer:
                return i
    raise AssertionError(f"{module} is in no layer")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out[name] = path
    return out


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("livescope")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("livescope"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_no_upward_imports():
    """Lazy imports inside functions count too: a lower layer never reaches a higher one."""
    modules = _modules()
    bad = []
    for name, path in modules.items():
        for imp in _imports(path, top_level_only=False):
            target = imp if imp in modules else imp.rsplit(".", 1)[0]
            if target in modules and _layer(target) > _layer(name):
                bad.append(f"{name} -> {target}")
    assert not bad, bad


def test_no_import_cycles_between_files():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for imp in _imports(path, top_level_only=True):
            target = imp if imp in modules else imp.rsplit(".", 1)[0]
            if target in modules and target != name and not name.startswith(target + "."):
                deps.add(target)
        graph[name] = deps
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                raise AssertionError(f"import cycle: {' -> '.join([*stack, node, dep])}")
            if state.get(dep) is None:
                visit(dep, [*stack, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


@pytest.mark.parametrize("module", ["livescope.card", "livescope.live.smoothing", "livescope.live.decision",
                                    "livescope.runs.score", "livescope.data.endoscope_area"])
def test_reading_cards_and_smoothing_do_not_load_tensorflow(module):
    code = f"import sys, {module}; print('TF' if 'tensorflow' in sys.modules else 'NO-TF')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "NO-TF"
