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
    ("features",),
    ("data",),
    ("model",),
    ("pretrain", "tasks"),
    ("runtime",),
    ("inference", "embed", "predict", "pockets", "dock"),
    ("train",),
    ("bench", "demo"),
    ("cli", "__main__"),
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
INFERENCE = ("inference", "embed", "predict", "pockets", "dock", "runtime")


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
