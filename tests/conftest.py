"""Shared fixtures. Structures come from the bundled corpus of real PDB entries (vabsnet.corpus)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vabsnet.corpus import entry

DATA = Path(__file__).parent / "data"


@pytest.fixture
def corpus_path():
    """``corpus_path("1AFS")`` -> path of a bundled structure file."""
    return lambda entry_id: entry(entry_id).path
