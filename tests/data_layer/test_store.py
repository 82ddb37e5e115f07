"""The prepared store: record round trip, failures, resume after SIGKILL, option checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import numpy as np
import pytest

from vabsnet import StoreError
from vabsnet.corpus import entry
from vabsnet.data.prepare import PrepareOptions, expand_inputs, prepare
from vabsnet.data.records import decode_record, encode_record
from vabsnet.data.store import REC, Store
from vabsnet.structure import load_structure

FEW = ["1AFS", "1gbt", "1osm", "adk_closed", "2XHE"]


def _records(path: Path) -> dict[bytes, bytes]:
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        out = {k: v for k, v in txn.cursor() if k.startswith(REC)}
    env.close()
    return out


def test_prepare_round_trip(tmp_path):
    paths = [entry(e).path for e in FEW]
    summary = prepare(paths, tmp_path / "s", progress=False)
    store = Store(tmp_path / "s")
    manifest = store.manifest
    assert manifest["counts"]["failures"] == 0 == summary.failures
    assert manifest["counts"]["entries"] == 5
    assert manifest["counts"]["chains"] == len(store) == summary.chains
    direct = load_structure(entry("1AFS").path).select_chain("B")
    rec = store["1AFS/B"]
    np.testing.assert_array_equal(rec.protein.coords, direct.coords)
    np.testing.assert_array_equal(rec.protein.atom_name, direct.atom_name)
    assert rec.protein.ec == {"B": ("1.1.1.50",)}
    assert {lig.name for lig in rec.protein.ligands} == {"NAP", "TES"}
    assert rec.sasa.shape == (direct.num_atoms,) and rec.sasa.sum() > 1000
    assert manifest["counts"]["residues"] == sum(store[k].protein.num_residues for k in store.keys)
    assert store.sequences()["1AFS/B"] == direct.sequence


def test_record_bytes_are_deterministic(corpus_path):
    from vabsnet.data.records import ChainRecord
    from vabsnet.structure.targets import atom_sasa

    p = load_structure(corpus_path("1osm"))
    a = encode_record(ChainRecord(p, atom_sasa(p)))
    b = encode_record(ChainRecord(p, atom_sasa(p)))
    assert a == b
    assert decode_record(a).protein.sequence == p.sequence


def test_damaged_record_is_a_clear_error():
    with pytest.raises(StoreError, match="not a vabsnet record"):
        decode_record(b"PK\x03\x04 something else", "x/A")


def test_malformed_inputs_are_failures_not_crashes(tmp_path, corpus_path):
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "empty.pdb").write_bytes(b"")
    (bad / "binary.cif").write_bytes(bytes(range(256)) * 10)
    (bad / "ok.pdb.gz").write_bytes(corpus_path("1osm").read_bytes())
    (bad / "cut.pdb.gz").write_bytes(corpus_path("1osm").read_bytes()[:3000])
    (bad / "notes.xyz").write_text("not a structure")
    summary = prepare([bad], tmp_path / "s", progress=False)
    assert summary.entries == 1 and summary.failures == 4
    lines = [json.loads(x) for x in (tmp_path / "s" / "failures.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    assert {Path(x["path"]).name for x in lines} == {"empty.pdb", "binary.cif", "cut.pdb.gz", "notes.xyz"}
    assert all(x["reason"] for x in lines)


def test_list_file_and_unique_ids(tmp_path, corpus_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for d in (a, b):
        (d / "x.pdb.gz").write_bytes(corpus_path("1osm").read_bytes())
    listing = tmp_path / "inputs.txt"
    listing.write_text(f"# two files with one name\n{a / 'x.pdb.gz'}\n{b / 'x.pdb.gz'}\n")
    items = expand_inputs([listing])
    assert [i.entry_id for i in items] == ["x", "x_2"]


def test_other_options_are_refused(tmp_path):
    prepare([entry("1osm").path], tmp_path / "s", progress=False)
    with pytest.raises(StoreError, match="built with options"):
        prepare([entry("1osm").path], tmp_path / "s", progress=False,
                options=PrepareOptions(chains_per_entry="first"))


def test_resume_after_sigkill_equals_clean_run(tmp_path):
    clean = tmp_path / "clean"
    prepare(["bundled"], clean, progress=False, workers=1)
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "vabsnet.cli", "prepare", "bundled", "--out", str(killed), "--quiet"]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until some inputs are committed, then kill hard
        time.sleep(0.3)
        if (killed / "data.mdb").exists() and len(_done(killed)) >= 10:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "manifest.json").exists(), "the run finished before it was killed"
    partial = len(_done(killed))
    assert 0 < partial < 123
    summary = prepare(["bundled"], killed, progress=False)
    assert summary.skipped_done == partial
    assert _records(killed) == _records(clean)
    assert (killed / "manifest.json").read_text() == (clean / "manifest.json").read_text()


def _done(path: Path) -> list[bytes]:
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        keys = [k for k, _ in txn.cursor() if k.startswith(b"done:")]
    env.close()
    return keys


def test_store_errors_are_clear(tmp_path):
    with pytest.raises(StoreError, match="no dataset store"):
        Store(tmp_path / "nothing")


def test_a_directory_of_shard_stores_reads_as_one_store(tmp_path):
    """Two `prepare --shard` stores under one directory: the same records, counts and identity split as one
    store of the same inputs, and pre-training runs on the directory."""
    from vabsnet.cli import main

    files = [str(entry(i).path) for i in ("1AFS", "1osm", "1gbt", "19hc", "1a28", "4CUP")]
    assert main(["prepare", *files, "--out", str(tmp_path / "one"), "--quiet"]) == 0
    for k in (0, 1):
        assert main(["prepare", *files, "--out", str(tmp_path / "sharded" / f"shard-{k}"), "--quiet",
                     "--shard", f"{k}/2"]) == 0
    one, sharded = Store(tmp_path / "one"), Store(tmp_path / "sharded")
    assert len(sharded.shards) == 2 and sharded.keys == one.keys and len(one) >= 8
    assert sharded.sequences() == one.sequences()
    np.testing.assert_array_equal(sharded["1osm/A"].protein.coords, one["1osm/A"].protein.coords)
    assert sharded.manifest["counts"] == one.manifest["counts"] and sharded.manifest["shards"] == 2
    for store in ("one", "sharded"):
        assert main(["split", str(tmp_path / store), "--fractions", "0.5,0.25,0.25"]) == 0
    assert Store(tmp_path / "sharded").splits() == Store(tmp_path / "one").splits()
    assert main(["pretrain", "--store", str(tmp_path / "sharded"), "--out", str(tmp_path / "run"), "--max-steps",
                 "2", "--quiet", "--set", "data.crop_residues=48", "--set", "data.sampling=cluster"]) == 0
    (tmp_path / "sharded" / "shard-1" / "data.mdb").rename(tmp_path / "stray.mdb")  # not a store any more
    assert len(Store(tmp_path / "sharded").shards) == 1
    with pytest.raises(StoreError, match="two shards"):  # the same inputs in two shards
        os.symlink(tmp_path / "sharded" / "shard-0", tmp_path / "sharded" / "shard-2")
        Store(tmp_path / "sharded")
