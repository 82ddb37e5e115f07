"""The GO benchmark builder: propagation, mapping, splits and the DeepFRI-layout round trip.

The metastudent-data files are GPL-2+ and are not copied here: the fixture below is written by hand in the
same formats (goGraph.txt: parent, child, level, relation; goasp_annot.dat: accession then GO ids;
goasp.fasta as plain FASTA), with made-up accessions carrying the sequences of bundled real chains. An
integration test runs on the real package when it is installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vabsnet.bench.go_labels import DEFAULT_DIR, best_hits, propagate, read_go_graph
from vabsnet.cli import main
from vabsnet.data.annotations import deepfri_id, read_go_annot, split_ids
from vabsnet.data.store import Store

# hand-written DAG: MF root GO:0003674 <- A (GO:1) <- B (GO:2) <- C (GO:3); D (GO:4) part_of B; E (GO:5)
# regulates B (not propagated)
GRAPH = """GO:0003674\tGO:0000001\t1\tis_a
GO:0000001\tGO:0000002\t2\tis_a
GO:0000002\tGO:0000003\t3\tis_a
GO:0000002\tGO:0000004\t3\tpart_of
GO:0000002\tGO:0000005\t3\tregulates
GO:0008150\tGO:0000010\t1\tis_a
GO:0005575\tGO:0000020\t1\tis_a
"""
ENTRIES = ["1AFS", "1a28", "1hvr", "4CUP", "1FKI", "pdb3mht", "19hc", "1osm", "2xr6A", "1gbt", "3U7T", "5PTI"]


def test_propagation_follows_is_a_and_part_of_only(tmp_path):
    (tmp_path / "goGraph.txt").write_text(GRAPH)
    parents = read_go_graph(tmp_path / "goGraph.txt")
    assert propagate({"GO:0000003"}, parents) == {"GO:0000001", "GO:0000002", "GO:0000003"}  # root dropped
    assert propagate({"GO:0000004"}, parents) == {"GO:0000001", "GO:0000002", "GO:0000004"}
    assert propagate({"GO:0000005"}, parents) == {"GO:0000005"}


def test_best_hits_apply_identity_and_chain_coverage():
    lengths = {"c1": 100, "c2": 100}
    hits = [{"query": "c1", "target": "P1", "identity": 0.99, "qstart": 1, "qend": 95, "bits": 180.0},
            {"query": "c1", "target": "P2", "identity": 1.00, "qstart": 1, "qend": 100, "bits": 200.0},
            {"query": "c2", "target": "P3", "identity": 0.94, "qstart": 1, "qend": 100, "bits": 190.0},
            {"query": "c2", "target": "P4", "identity": 0.99, "qstart": 20, "qend": 100, "bits": 150.0}]
    assert best_hits(hits, lengths, 0.95, 0.9) == {"c1": "P2"}  # c2: one too dissimilar, one too short


@pytest.fixture(scope="module")
def built(make_store, tmp_path_factory):
    store = make_store("go", ENTRIES, (0.5, 0.25, 0.25))
    src = tmp_path_factory.mktemp("metastudent")
    (src / "goGraph.txt").write_text(GRAPH)
    (src / "nameMapping.txt").write_text("GO:0000001\tterm one\nGO:0000002\tterm two\n")
    seqs = Store(store).sequences()
    ids = sorted({deepfri_id(k): s for k, s in seqs.items()}.items())
    for onto, term in (("MFO", "GO:0000003"), ("BPO", "GO:0000010"), ("CCO", "GO:0000020")):
        (src / onto).mkdir()
        fasta, annot = [], []
        for i, (_chain, seq) in enumerate(ids):
            fasta.append(f">ACC{i}|{term}\n{seq}\n")
            if i % 3 != 2 or onto != "MFO":  # every third chain has no MF annotation
                annot.append(f"ACC{i}\t{term}\t{term}\n")
        (src / onto / "goasp.fasta").write_text("".join(fasta))
        (src / onto / "goasp_annot.dat").write_text("".join(annot))
    out = tmp_path_factory.mktemp("go") / "labels"
    assert main(["go-benchmark", str(store), "--out", str(out), "--source", str(src), "--min-train", "1"]) == 0
    return store, out, ids


def test_round_trip_through_the_deepfri_reader(built):
    store, out, ids = built
    info = json.loads((out / "benchmark.json").read_text())
    assert info["mapped"]["BPO"] == len(ids)  # identical sequences: every chain maps
    with_mf = {seq for i, (_, seq) in enumerate(ids) if i % 3 != 2}  # sequences of annotated accessions
    # a chain without its own MF accession maps only to a >= 95% identical annotated one
    assert sum(seq in with_mf for _, seq in ids) <= info["mapped"]["MFO"] < len(ids)
    terms, by_chain = read_go_annot(out / "nrPDB-GO_annot.tsv", "molecular_function")
    assert terms == ["GO:0000001", "GO:0000002", "GO:0000003"]  # propagated, root dropped
    seqs = dict(ids)
    assert sum(got == terms for got in by_chain.values()) == info["annotated_chains"]["molecular_function"]
    for chain, got in by_chain.items():
        assert got == terms if seqs[chain] in with_mf else got in ([], terms)
    _, bp = read_go_annot(out / "nrPDB-GO_annot.tsv", "biological_process")
    assert all(v == ["GO:0000010"] for v in bp.values())
    splits = split_ids(out, "GO", 0.95)
    assert sum(len(v) for v in splits.values()) == len(by_chain) == info["splits"]["train"] + \
        info["splits"]["valid"] + info["splits"]["test"]


def test_test_cutoffs_hold_against_every_train_chain(built):
    """No test chain kept at cutoff c is within c identity of a train chain (checked with a new search)."""
    from vabsnet.data.splits import search_sequences

    store, out, ids = built
    seqs = dict(ids)
    train = split_ids(out, "GO", 0.95)["train"]
    for cutoff in (0.3, 0.5, 0.95):
        test = split_ids(out, "GO", cutoff)["test"]
        hits = search_sequences({t: seqs[t] for t in test}, {t: seqs[t] for t in train})
        assert all(h["identity"] < cutoff for h in hits)


@pytest.mark.skipif(not (DEFAULT_DIR / "goGraph.txt").exists(), reason="Debian metastudent-data not installed")
def test_real_metastudent_files_parse():
    parents = read_go_graph(DEFAULT_DIR / "goGraph.txt")
    atp = propagate({"GO:0005524"}, parents)  # ATP binding
    assert {"GO:0000166", "GO:0005488"} <= atp and "GO:0003674" not in atp  # nucleotide binding, binding
    assert len(parents) > 30_000
    line = Path(DEFAULT_DIR / "MFO" / "goasp_annot.dat").open().readline().split("\t")
    assert line[1].startswith("GO:")
