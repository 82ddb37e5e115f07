"""Shared fixtures. Structures come from the bundled corpus of real PDB entries (vabsnet.corpus)."""

from __future__ import annotations

import os
from pathlib import Path

# Triton decides at import whether its kernels are compiled or interpreted; without a GPU the fused
# attention kernel is tested under the interpreter (only where a test asks for attention="fused").
import torch  # noqa: E402 - importing torch does not import Triton

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest

from vabsnet.corpus import entries, entry
from vabsnet.data.prepare import prepare
from vabsnet.data.splits import split_store

DATA = Path(__file__).parent / "data"


@pytest.fixture
def corpus_path():
    """``corpus_path("1AFS")`` -> path of a bundled structure file."""
    return lambda entry_id: entry(entry_id).path


@pytest.fixture(scope="session")
def make_store(tmp_path_factory):
    """``make_store(name, entry_ids, fractions)`` -> a prepared store of those bundled entries, split at 30%
    identity into train/valid/test with ``fractions`` (seed 0)."""

    def make(name: str, entry_ids: list[str], fractions: tuple[float, float, float]) -> Path:
        path = tmp_path_factory.mktemp(name) / "store"
        by_id = {e.id: e for e in entries()}
        prepare([by_id[i].path for i in entry_ids], path, progress=False)
        split_store(path, identity=0.3, fractions=fractions, seed=0)
        return path

    return make
