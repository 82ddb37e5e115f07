from __future__ import annotations

import json

import pytest

from vabsnet.cli import main
from vabsnet.corpus import entry
from vabsnet.data.prepare import prepare
from vabsnet.data.splits import assign_clusters, held_out_ids, split_store
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError


def test_assign_clusters_keeps_clusters_whole():
    rep_of = {f"k{i}": f"k{i - i % 3}" for i in range(30)}  # 10 clusters of 3
    splits = assign_clusters(rep_of, (0.8, 0.1, 0.1), seed=0)
    assert sorted(sum(splits.values(), [])) == sorted(rep_of)
    where = {k: name for name, keys in splits.items() for k in keys}
    for k, rep in rep_of.items():
        assert where[k] == where[rep]
    assert [len(splits[n]) for n in ("train", "valid", "test")] == [24, 3, 3]
    assert assign_clusters(rep_of, (0.8, 0.1, 0.1), seed=0) == splits
    with pytest.raises(VabsnetError, match="fractions"):
        assign_clusters(rep_of, (0.5, 0.1, 0.1), seed=0)


def test_mmseqs_split_of_real_store(tmp_path):
    ids = ["1AFS", "1gbt", "1osm", "adk_closed", "19hc", "1a28", "pdb3o21", "7DDO"]
    prepare([entry(i).path for i in ids], tmp_path / "s", progress=False)
    result = split_store(tmp_path / "s", identity=0.3, fractions=(0.5, 0.25, 0.25), seed=1)
    store = Store(tmp_path / "s")
    on_disk = json.loads((tmp_path / "s" / "splits.json").read_text())
    assert on_disk["splits"] == store.splits() == result["splits"]
    keys = sum(result["splits"].values(), [])
    assert sorted(keys) == sorted(store.keys)
    # identical chains (1AFS A/B, 1a28 A/B, 3o21 A-D) share a cluster, so they land in one split
    where = {k: n for n, ks in result["splits"].items() for k in ks}
    assert where["1AFS/A"] == where["1AFS/B"]
    assert len({where[f"pdb3o21/{c}"] for c in "ABCD"}) == 1
    for key, rep in result["cluster_of"].items():
        assert where[key] == where[rep]
    assert result["num_clusters"] < len(keys)


def test_hold_out_moves_whole_clusters_of_benchmark_chains_to_test(make_store, tmp_path):
    """`split --hold-out DIR`: a benchmark's valid/test chains and everything clustered with them (1AFS A and B
    are the same sequence) leave train, so pre-training never sees them."""
    store = make_store("holdout", ["1AFS", "1gbt", "1osm", "19hc", "1a28", "1FKI"], (0.8, 0.1, 0.1))
    bench = tmp_path / "bench"
    bench.mkdir()
    for name, ids in {"train": ["1GBT-A"], "valid": ["1OSM-A"], "test": ["1AFS-B"]}.items():
        (bench / f"nrPDB-GO_{name}.txt").write_text("".join(f"{i}\n" for i in ids))
    assert main(["split", str(store), "--hold-out", str(bench), "--fractions", "1,0,0"]) == 0
    info = Store(store).split_info()
    assert {"1AFS/A", "1AFS/B", "1osm/A"} <= set(info["splits"]["test"])
    assert not {"1AFS/A", "1AFS/B", "1osm/A"} & set(info["splits"]["train"])
    assert info["held_out"] == {"chains": len(info["splits"]["test"]), "clusters": 2}
    assert "1gbt/A" in info["splits"]["train"]  # a benchmark train chain may be pre-trained on
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VabsnetError, match="no nrPDB-GO/EC valid and test lists"):
        held_out_ids(empty)


def test_fold_splits_partition_every_key_into_one_test_fold_with_entries_whole():
    from vabsnet.data.splits import fold_splits

    # clusters c1 = {E1/A, E2/A}, c2 = {E1/B}, c3 = {E3/A}, c4 = {E4/A, E4/B}, c5 = {E5/A}, c6 = {E6/A}
    rep_of = {"E1/A": "c1", "E2/A": "c1", "E1/B": "c2", "E3/A": "c3", "E4/A": "c4", "E4/B": "c4",
              "E5/A": "c5", "E6/A": "c6"}
    ligand = {"E3/A", "E5/A", "E6/A"}
    seen = []
    for fold in range(3):
        s = fold_splits(rep_of, 3, fold, seed=1, valid_fraction=0.25, stratify=ligand)
        assert sorted(s["train"] + s["valid"] + s["test"]) == sorted(rep_of)
        where = {k: name for name, keys in s.items() for k in keys}
        assert where["E1/A"] == where["E1/B"] == where["E2/A"]  # entry E1 joins clusters c1 and c2
        assert where["E4/A"] == where["E4/B"]
        assert sum(k in ligand for k in s["test"]) == 1  # stratified: one ligand entry per fold
        seen += s["test"]
    assert sorted(seen) == sorted(rep_of)
    with pytest.raises(VabsnetError, match="fold 3"):
        fold_splits(rep_of, 3, 3)
