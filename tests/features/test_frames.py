"""Residue frames of span-masked residues (a noised CA, no N or C): the CA-trace fallback links neighbours
by sequence adjacency, so masked residues keep their frame and every direction feature."""

from __future__ import annotations

import numpy as np
import pytest

from vabsnet.corpus import entry
from vabsnet.features.featurize import residue_frames
from vabsnet.pretrain.masking import apply_mask
from vabsnet.structure import load_structure
from vabsnet.structure.targets import chain_links

CHAINS = [("1AFS", "A"), ("1osm", "A"), ("19hc", "A"), ("2xr6A", "A"), ("1gbt", "A")]


@pytest.fixture(scope="module")
def masked_views():
    chains = [load_structure(entry(e).path).select_chain(c) for e, c in CHAINS]
    return [apply_mask(p, "span", np.random.default_rng(i)) for i, p in enumerate(chains)]


def _share(views, frame_fn):
    ok = sum(int(frame_fn(v.protein)[v.masked].sum()) for v in views)
    return ok / sum(int(v.masked.sum()) for v in views)


def test_masked_residues_keep_their_frames(masked_views, monkeypatch):
    import sys

    featurize_module = sys.modules["vabsnet.features.featurize"]
    after = _share(masked_views, lambda p: residue_frames(p)[1])

    def distance_only(protein):  # the rule before: CA-CA under 4.2 A, which 0.5 A noise often breaks
        link = chain_links(protein)
        ca = protein.ca_coords
        same = protein.chain_id[1:] == protein.chain_id[:-1]
        link[1:] |= same & (np.linalg.norm(np.diff(ca, axis=0), axis=1) < 4.2)
        return link

    monkeypatch.setattr(featurize_module, "chain_links_ca", distance_only)
    before = _share(masked_views, lambda p: residue_frames(p)[1])
    assert before < 0.7 and after > 0.97, (before, after)


def test_frames_of_a_clean_chain_are_unchanged_and_breaks_stay_breaks():
    protein = load_structure(entry("1AFS").path).select_chain("A")
    frames, ok = residue_frames(protein)
    assert ok.all()
    np.testing.assert_allclose(np.einsum("rij,rkj->rik", frames, frames), np.broadcast_to(np.eye(3), frames.shape),
                               atol=1e-5)
    # a residue whose neighbours are 10 A away (a real gap) gets no CA-trace frame, numbering or not
    gap = protein.crop(40, 43)
    coords = gap.coords.copy()
    coords[gap.atom_residue == 0] -= 10.0
    coords[gap.atom_residue == 2] += 10.0
    import dataclasses

    from vabsnet.constants import ATOM_CA
    from vabsnet.structure.select import keep_atoms

    lone = keep_atoms(dataclasses.replace(gap, coords=coords), (gap.atom_residue != 1) | (gap.atom_name == ATOM_CA))
    assert not residue_frames(lone)[1][1]
