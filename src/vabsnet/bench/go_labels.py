"""An offline GO benchmark for a store's chains, written in the DeepFRI layout.

Sources: Debian's ``metastudent-data`` (GPL-2+; read in place, never copied into the repo):
``dataset_201401/{MFO,BPO,CCO}/goasp_annot.dat`` (Swiss-Prot accession, then GO ids, tab-separated),
``{MFO,BPO,CCO}/goasp.fasta`` (a BLAST database: sequences are dumped with ``blastdbcmd`` from
``ncbi-blast+``; a plain FASTA file of that name works too), ``goGraph.txt`` (parent, child, level,
relation) and ``nameMapping.txt`` (id, name).

Steps (:func:`build_go_benchmark`):

1. map each chain to its best Swiss-Prot hit with MMseqs2 (identity >= 0.95 and coverage >= 0.9 of the
   chain; best bit score), per ontology;
2. take the hit's terms and propagate them to every ancestor over ``is_a`` and ``part_of`` (the GO true
   path rule), dropping the three root terms;
3. split: MMseqs2 clusters at 95% identity assigned whole to train/valid/test; for each test chain, its
   highest identity to any train chain (MMseqs2 search) sets the DeepFRI cutoff columns (<30% ... <95%):
   ``--test-cutoff 0.3`` keeps only test chains below 30% identity to every train chain;
4. keep terms annotated on at least ``min_train`` train chains (DeepFRI's rule of thumb: 10);
5. write ``nrPDB-GO_annot.tsv``, ``nrPDB-GO_{train,valid,test}.txt``, ``nrPDB-GO_test.csv`` and
   ``benchmark.json`` (counts, parameters, sources).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from vabsnet.atomic import atomic_write_text
from vabsnet.data.annotations import CUTOFFS, deepfri_id
from vabsnet.data.splits import SPLIT_NAMES, assign_clusters, cluster_sequences, search_sequences
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError

ONTOLOGIES = {"MFO": "molecular_function", "BPO": "biological_process", "CCO": "cellular_component"}
ROOTS = frozenset({"GO:0003674", "GO:0008150", "GO:0005575"})
PROPAGATE = ("is_a", "part_of")
DEFAULT_DIR = Path("/usr/share/metastudent-data/dataset_201401")


def read_go_graph(path: str | Path, relations: Iterable[str] = PROPAGATE) -> dict[str, set[str]]:
    """``child -> parents`` over ``relations`` from ``goGraph.txt`` (parent, child, level, relation)."""
    keep, parents = set(relations), defaultdict(set)
    for line in Path(path).read_text().splitlines():
        fields = line.split("\t")
        if len(fields) >= 4 and fields[3] in keep:
            parents[fields[1]].add(fields[0])
    return dict(parents)


def propagate(terms: Iterable[str], parents: dict[str, set[str]]) -> set[str]:
    """``terms`` and all their ancestors, without the root terms."""
    seen, todo = set(), list(terms)
    while todo:
        term = todo.pop()
        if term not in seen:
            seen.add(term)
            todo.extend(parents.get(term, ()))
    return seen - ROOTS


def read_annotations(path: str | Path) -> dict[str, set[str]]:
    """``accession -> GO terms`` of a ``goasp_annot.dat`` file."""
    out: dict[str, set[str]] = {}
    for line in Path(path).read_text().splitlines():
        fields = [f for f in line.strip().split("\t") if f]
        if len(fields) >= 2:
            out.setdefault(fields[0], set()).update(f for f in fields[1:] if f.startswith("GO:"))
    return out


def read_fasta_text(text: str) -> dict[str, str]:
    """``accession -> sequence``; the accession is the title up to the first space or ``|``."""
    out: dict[str, str] = {}
    name: str | None = None
    parts: list[str] = []
    for line in text.splitlines():
        if line.startswith(">"):
            if name is not None:
                out[name] = "".join(parts)
            name, parts = line[1:].split()[0].split("|")[0], []
        elif line.strip():
            parts.append(line.strip())
    if name is not None:
        out[name] = "".join(parts)
    return out


def ontology_sequences(folder: Path) -> dict[str, str]:
    """Sequences of one ontology folder: ``goasp.fasta`` as FASTA text, or its BLAST database."""
    plain = folder / "goasp.fasta"
    if plain.is_file():
        return read_fasta_text(plain.read_text())
    tool = shutil.which("blastdbcmd")
    if tool is None:
        raise VabsnetError(f"{folder}: goasp.fasta is a BLAST database; install ncbi-blast+ (blastdbcmd)")
    proc = subprocess.run([tool, "-db", str(plain), "-entry", "all", "-outfmt", "%t\t%s"], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise VabsnetError(f"blastdbcmd on {plain} failed: {proc.stderr.strip()[-300:]}")
    return {t.split()[0].split("|")[0]: s for t, _, s in (ln.partition("\t") for ln in proc.stdout.splitlines()) if s}


def best_hits(hits: list[dict], lengths: dict[str, int], min_identity: float,
              min_coverage: float) -> dict[str, str]:
    """``query -> target``: the best-scoring hit per query with identity and query coverage at least the
    thresholds (coverage = aligned query span / query length)."""
    best: dict[str, tuple[float, str]] = {}
    for h in hits:
        cover = (h["qend"] - h["qstart"] + 1) / lengths[h["query"]]
        if h["identity"] >= min_identity and cover >= min_coverage:
            if h["query"] not in best or h["bits"] > best[h["query"]][0]:
                best[h["query"]] = (h["bits"], h["target"])
    return {q: t for q, (_, t) in best.items()}


def build_go_benchmark(store_path: str | Path, out: str | Path, *, source: str | Path = DEFAULT_DIR,
                       min_train: int = 10, min_identity: float = 0.95, min_coverage: float = 0.9,
                       fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0,
                       threads: int = 2) -> dict:
    """Build the benchmark (see the module docstring); returns the content of ``OUT/benchmark.json``."""
    source, out = Path(source), Path(out)
    for needed in ("goGraph.txt", *(f"{o}/goasp_annot.dat" for o in ONTOLOGIES)):
        if not (source / needed).exists():
            raise VabsnetError(f"{source}: no {needed} (apt-get install metastudent-data)")
    chains: dict[str, str] = {}
    for key, seq in Store(store_path).sequences().items():
        chains.setdefault(deepfri_id(key), seq)  # one row per DeepFRI chain id
    parents = read_go_graph(source / "goGraph.txt")
    names = dict(ln.split("\t", 1) for ln in (source / "nameMapping.txt").read_text().splitlines() if "\t" in ln) \
        if (source / "nameMapping.txt").exists() else {}
    lengths = {k: len(s) for k, s in chains.items()}
    labels: dict[str, dict[str, set[str]]] = {o: {} for o in ONTOLOGIES}
    mapped: dict[str, int] = {}
    for onto in ONTOLOGIES:
        annot = read_annotations(source / onto / "goasp_annot.dat")
        targets = {a: s for a, s in ontology_sequences(source / onto).items() if a in annot}
        hits = search_sequences(chains, targets, min_identity=min_identity, coverage=min_coverage, threads=threads)
        best = best_hits(hits, lengths, min_identity, min_coverage)
        mapped[onto] = len(best)
        for chain, acc in best.items():
            terms = propagate(annot[acc], parents)
            if terms:
                labels[onto][chain] = terms
    annotated = sorted(set().union(*(set(v) for v in labels.values())))
    if not annotated:
        raise VabsnetError(f"{store_path}: no chain maps to an annotated Swiss-Prot entry")
    splits = assign_clusters(cluster_sequences({c: chains[c] for c in annotated}, 0.95, threads=threads),
                             fractions, seed)
    train = set(splits["train"])
    vocab = {}
    for onto, by_chain in labels.items():
        counts: dict[str, int] = defaultdict(int)
        for chain in train & set(by_chain):
            for term in by_chain[chain]:
                counts[term] += 1
        vocab[onto] = sorted(t for t, n in counts.items() if n >= min_train)
    keep = {c for c in annotated if any(labels[o].get(c, set()) & set(vocab[o]) for o in ONTOLOGIES)}
    splits = {name: sorted(set(ids) & keep) for name, ids in splits.items()}
    identity = max_identity(splits["test"], splits["train"], chains, threads)
    _write(out, splits, labels, vocab, names, identity)
    info = {
        "source": str(source), "store": str(store_path), "chains": len(chains),
        "mapped": mapped, "parameters": {"min_identity": min_identity, "min_coverage": min_coverage,
                                         "min_train": min_train, "fractions": list(fractions), "seed": seed,
                                         "split_clusters": "mmseqs easy-cluster --min-seq-id 0.95",
                                         "propagation": list(PROPAGATE)},
        "terms": {ONTOLOGIES[o]: len(v) for o, v in vocab.items()},
        "splits": {n: len(v) for n, v in splits.items()},
        "test_below": {f"{c:g}": sum(identity[t] < c for t in splits["test"]) for c in CUTOFFS},
        "annotated_chains": {ONTOLOGIES[o]: sum(bool(labels[o].get(c, set()) & set(vocab[o])) for c in keep)
                             for o in ONTOLOGIES},
    }
    atomic_write_text(out / "benchmark.json", json.dumps(info, indent=1) + "\n")
    return info


def max_identity(queries: list[str], targets: list[str], chains: dict[str, str], threads: int) -> dict[str, float]:
    """Highest sequence identity of each query chain to any target chain (0 when MMseqs2 finds none)."""
    best = dict.fromkeys(queries, 0.0)
    if queries and targets:
        hits = search_sequences({q: chains[q] for q in queries}, {t: chains[t] for t in targets},
                                min_identity=0.0, coverage=0.0, threads=threads)
        for h in hits:
            best[h["query"]] = max(best[h["query"]], h["identity"])
    return best


def _write(out: Path, splits: dict[str, list[str]], labels: dict, vocab: dict, names: dict,
           identity: dict[str, float]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    head = []
    for onto, branch in ONTOLOGIES.items():
        head += [f"### GO-terms ({branch})", "\t".join(vocab[onto]),
                 f"### GO-names ({branch})", "\t".join(names.get(t, t) for t in vocab[onto])]
    head.append("### PDB-chain\tGO-terms (molecular_function)\tGO-terms (biological_process)\t"
                "GO-terms (cellular_component)")
    rows = []
    for chain in sorted(c for ids in splits.values() for c in ids):
        cols = [",".join(sorted(labels[o].get(chain, set()) & set(vocab[o]))) for o in ONTOLOGIES]
        rows.append("\t".join([chain, *cols]))
    atomic_write_text(out / "nrPDB-GO_annot.tsv", "\n".join(head + rows) + "\n")
    for name in SPLIT_NAMES:
        atomic_write_text(out / f"nrPDB-GO_{name}.txt", "".join(f"{c}\n" for c in splits[name]))
    table = ["PDB-chain," + ",".join(f"<{round(c * 100)}%" for c in CUTOFFS)]
    table += [f"{t}," + ",".join(str(int(identity[t] < c)) for c in CUTOFFS) for t in splits["test"]]
    atomic_write_text(out / "nrPDB-GO_test.csv", "\n".join(table) + "\n")
