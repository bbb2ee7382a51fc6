"""The layout of DESIGN section 2: every import points down the list of layers, there are no import
cycles, and the core and the batch path load neither gRPC, prometheus_client nor YAML."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "streamproc"

#: The layers, top first: a module may import from its own layer and the ones before it, never after.
LAYERS = ("", "decode", "analyze", "report", "batch", "live", "tools", "cli")
#: Packages `make proto` generates, and the layer each belongs to (the gRPC query API is the live path's).
GENERATED = {"v1": "live"}
#: What the pure core and the batch path must never load: the live path's libraries.
LIVE_ONLY = ("grpc", "prometheus_client", "yaml")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    parts = module.split(".")
    known = (*LAYERS, *GENERATED)
    folder = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in known) else ""
    return LAYERS.index(GENERATED.get(folder, folder))


def imports(path: Path) -> set[str]:
    """The streamproc modules `path` imports at module level or inside functions (TYPE_CHECKING too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("streamproc"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("streamproc")}
    return found


MODULES = {module_name(path): imports(path) for path in PACKAGE.rglob("*.py")}


def test_the_folders_are_the_layers():
    folders = {path.name for path in PACKAGE.iterdir() if path.is_dir() and not path.name.startswith("_")}
    assert folders == set(LAYERS) - {""} | set(GENERATED)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    """No module imports from a layer below its own."""
    upward = sorted(target for target in MODULES[module] if layer(target) > layer(module))
    assert upward == [], f"{module} imports from a later layer"


def test_no_import_cycles():
    """The import graph between modules has no cycle (a package counts as its __init__ module)."""
    graph = {
        module: {t for t in targets if t in MODULES and t != module} for module, targets in MODULES.items()
    }
    state: dict[str, int] = {}  # 1 on the current path, 2 finished

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
        return None

    for module in sorted(graph):
        if module not in state:
            assert cycle_from(module) is None


@pytest.mark.parametrize(
    "entry",
    [
        "streamproc.model, streamproc.units, streamproc.errors, streamproc.decode, streamproc.analyze, "
        "streamproc.report",
        "streamproc.batch, streamproc.batch.compare, streamproc.batch.fetch",
        "streamproc.cli.analyze",
    ],
    ids=["core", "batch", "analyze-traces"],
)
def test_the_core_and_the_batch_path_load_no_live_library(entry):
    """Importing them in a fresh interpreter loads neither grpc, prometheus_client nor yaml."""
    code = (
        f"import sys; import {entry}; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {LIVE_ONLY!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_no_module_is_over_about_400_lines():
    long = {module_name(p): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 420}
    assert long == {}
