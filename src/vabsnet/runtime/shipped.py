"""Models shipped inside the package (``vabsnet/runtime/release/<name>/``), usable by name wherever a run or
an encoder is asked for, and the provenance every output records.

A shipped model is a folder in the layout of a run: ``encoder.safetensors`` (an encoder) or
``model.safetensors`` (+ ``calibration.json``; a fine-tuned model), ``config.json``, and ``card.json``, its
model card: what it is, the data, steps, hardware and wall time that made it, the benchmark figures it
reaches, the SHA-256 of its weights and reference outputs on one bundled file (``tests/test_shipped.py``
checks both). ``scripts/train_release.py`` writes them.

Name resolution: a path that exists is always a path (a run directory or a weights file); otherwise the name
of a shipped model; otherwise a :class:`CheckpointError` that lists the shipped names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from vabsnet.atomic import atomic_write_json
from vabsnet.runtime.weights import CONFIG_FILE, ENCODER_FILE, MODEL_FILE, CheckpointError

RELEASE = Path(__file__).resolve().parent / "release"
CARD_FILE = "card.json"
PROVENANCE_FILE = "provenance.json"
ENCODER_KIND = "encoder"


@dataclass(frozen=True)
class ModelCard:
    name: str  # e.g. "tiny-span"
    kind: str  # "encoder", or the task a fine-tuned model predicts ("binding-site", "go-mf", ...)
    version: str  # the release, e.g. "2026.12"
    summary: str  # one line: what it is
    sha256: str  # of the weights file
    headline: dict[str, float]  # the figures `vabsnet models` shows, from the benchmarks
    path: Path  # the model's folder
    card: dict  # the whole card.json

    @property
    def weights(self) -> Path:
        return self.path / (ENCODER_FILE if self.kind == ENCODER_KIND else MODEL_FILE)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(folder: Path) -> ModelCard:
    card = json.loads((folder / CARD_FILE).read_text())
    return ModelCard(card["name"], card["kind"], card["version"], card["summary"], card["sha256"],
                     dict(card.get("headline", {})), folder, card)


@cache
def shipped_models() -> dict[str, ModelCard]:
    """Every shipped model by name (empty when the package holds none)."""
    if not RELEASE.is_dir():
        return {}
    cards = [read_card(d) for d in sorted(RELEASE.iterdir()) if (d / CARD_FILE).is_file()]
    return {c.name: c for c in cards}


def default_model(kind: str) -> str:
    """The shipped model for ``kind`` ("encoder" or a task name); the first by name when several are."""
    names = [n for n, c in shipped_models().items() if c.kind == kind]
    if not names:
        what = "encoder" if kind == ENCODER_KIND else f"{kind} model"
        raise CheckpointError(f"no {what} ships with this version of vabsnet; give a run directory (shipped: "
                              f"{', '.join(shipped_models()) or 'none'})")
    return names[0]


def resolve(name_or_path: str | Path) -> Path:
    """The folder (or file) a run/encoder argument names: an existing path, else a shipped model's folder."""
    path = Path(name_or_path)
    if path.exists():
        return path
    card = shipped_models().get(str(name_or_path))
    if card is None:
        raise CheckpointError(f"{name_or_path}: no such file or directory, and not a shipped model (shipped: "
                              f"{', '.join(shipped_models()) or 'none'}; `vabsnet models` lists them)")
    return card.path


def provenance(name_or_path: str | Path) -> dict:
    """What produced an output: the shipped model's name, release and weights hash, or the run's path and
    the hash of its weights file."""
    from vabsnet import __version__

    path = resolve(name_or_path)
    card = next((c for c in shipped_models().values() if c.path == path.resolve()), None)
    if card is not None:
        return {"model": card.name, "version": card.version, "sha256": card.sha256, "shipped": True,
                "vabsnet": __version__}
    weights = path
    if path.is_dir():
        weights = next((path / f for f in (MODEL_FILE, ENCODER_FILE) if (path / f).exists()), path / MODEL_FILE)
    config = weights.with_name(CONFIG_FILE)
    return {"model": str(path.resolve()), "version": None,
            "sha256": sha256_file(weights) if weights.exists() else None, "shipped": False,
            "preset": json.loads(config.read_text()).get("preset") if config.exists() else None,
            "vabsnet": __version__}


def write_provenance(out: str | Path, name_or_path: str | Path, extra: dict | None = None) -> dict:
    """``OUT/provenance.json`` (see :func:`provenance`, plus ``extra``); returns what it wrote."""
    record = {**provenance(name_or_path), **(extra or {})}
    atomic_write_json(Path(out) / PROVENANCE_FILE, record)
    return record
