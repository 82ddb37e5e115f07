"""The import contract: every arrow points down the data flow, and inference never reaches the training
engine. Read from the source (every ``import`` statement, also those inside functions), so a new upward
import fails here, in CI, before it can become a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import vabsnet

SRC = Path(vabsnet.__file__).parent

# Lowest first. A module may import from its own layer's package and from lower layers only.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "constants", "atomic", "metrics", "registry", "plots"),
    ("config",),
    ("structure", "corpus"),
    ("features", "cavities", "pocket_rank"),
    ("data",),
    ("model",),
    ("pretrain", "tasks"),
    ("runtime",),
    ("inference", "embed", "predict", "pockets", "dock", "release"),
    ("train",),
    ("bench", "demo"),
    ("cli", "__main__"),
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
INFERENCE = ("inference", "embed", "predict", "pockets", "dock", "release", "runtime")


def _top(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def _imports() -> list[tuple[str, str, int]]:
    """(importing module's top-level part, imported vabsnet module, line) for every vabsnet import."""
    out = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        mod = ".".join(rel.parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vabsnet"):
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                out += [(mod, n, node.lineno) for n in names if n.count(".") and _top(n) in LAYER][:1]
            elif isinstance(node, ast.Import):
                out += [(mod, a.name, node.lineno) for a in node.names if a.name.startswith("vabsnet.")]
    return out


def test_every_module_has_a_layer():
    tops = {_top(".".join(p.relative_to(SRC.parent).with_suffix("").parts)) for p in SRC.rglob("*.py")}
    assert tops - {"__init__"} <= set(LAYER), sorted(tops - set(LAYER))


def test_no_import_points_up():
    up = [f"{mod}:{line} imports {target}" for mod, target, line in _imports()
          if _top(mod) in LAYER and LAYER[_top(target)] > LAYER[_top(mod)]]
    assert not up, "\n".join(sorted(up))


def test_inference_never_reaches_training():
    bad = [f"{mod}:{line} imports {target}" for mod, target, line in _imports()
           if _top(mod) in INFERENCE and _top(target) in ("train", "demo", "bench", "cli")]
    assert not bad, "\n".join(bad)


def _module_graph() -> dict[str, set[str]]:
    """Module -> the vabsnet modules it imports when it is imported (top-level statements only: not inside
    functions, not under ``if TYPE_CHECKING``)."""
    modules = {".".join(p.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in modules.items():
        edges: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vabsnet"):
                for alias in node.names:  # "from vabsnet.x import y": the submodule y when there is one
                    sub = f"{node.module}.{alias.name}"
                    edges.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
        graph[mod] = edges & set(modules) - {mod}
    return graph


def test_no_import_cycles():
    graph = _module_graph()
    assert "vabsnet.runtime" in graph["vabsnet.train.finetune"] and sum(map(len, graph.values())) > 200
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(mod: str, path: list[str]) -> None:
        state[mod] = 1
        for nxt in sorted(graph.get(mod, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[mod] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
