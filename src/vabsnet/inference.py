"""The one batch-of-files runner behind ``embed`` and ``predict``: structure files in, one result per
chain out, on any device, in batches of chains filled up to an atom budget.

Files are read one at a time; each chain is featurised on its own, so a chain's result never depends on
the other chains of its batch (equal to one-at-a-time results within float rounding; tested). A file that
cannot be read, or a chain that fails, is skipped and recorded in ``OUT/failures.jsonl``; the job goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from torch import nn
from tqdm import tqdm

from vabsnet.atomic import write_failures
from vabsnet.config import EncoderConfig
from vabsnet.constants import ATOM_BUDGET, MAX_CHAIN_RESIDUES
from vabsnet.data.batch import Batch, atom_batches, collate
from vabsnet.data.prepare import expand_inputs
from vabsnet.errors import failure_reason
from vabsnet.features import featurize
from vabsnet.features.featurize import ProteinGraph
from vabsnet.features.lm import ExtractDir
from vabsnet.runtime import run_batches
from vabsnet.structure import Protein, load_structure
from vabsnet.structure.select import split_chains


@dataclass(frozen=True, eq=False)
class ChainJob:
    path: Path  # the input file
    entry_id: str
    chain: str  # chain id ('' when the file has none)
    protein: Protein  # this chain alone
    graph: ProteinGraph
    siblings: int = 1  # chains of its file that were queued (a consumer can tell when a file is complete)

    @property
    def stem(self) -> str:
        """File-name stem of this chain's outputs: ``<entry>_<chain>``, made file-system safe."""
        return safe_name(f"{self.entry_id}_{self.chain or '_'}")


@dataclass(frozen=True)
class FilesSummary:
    files: int
    chains: int
    failures: int
    out: Path


def safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name.replace("/", "_"))


def run_files(inputs: Sequence[str | Path], out: Path, encoder: EncoderConfig, model: nn.Module,
              compute: Callable[[Batch], list], write: Callable[[ChainJob, object], None], *,
              precision: str = "32", atom_budget: int = ATOM_BUDGET, max_chain_residues: int = MAX_CHAIN_RESIDUES,
              progress: bool = True, desc: str = "", lm_features: str | Path | None = None,
              shard: tuple[int, int] | None = None) -> FilesSummary:
    """For every chain of every input: ``write(job, result)`` where ``compute(batch)`` gives one result per
    protein of a batch, run by :func:`vabsnet.runtime.run_batches` (``model`` in eval mode on its device, no
    gradients, ``precision``). ``lm_features``: an ``esm-extract`` directory holding the chains'
    language-model features (labels ``<entry>_<chain>``, or the same sequence)."""
    out.mkdir(parents=True, exist_ok=True)
    lm_source = ExtractDir(lm_features) if lm_features is not None else None

    def graph_of(sub: Protein) -> ProteinGraph:
        if lm_source is None or encoder.lm_dim == 0:
            return featurize(sub, encoder)
        found = lm_source.find(sub.name, sub.sequence)
        return featurize(sub, encoder, lm=found.residue, lm_cls=found.cls)

    failures: list[dict] = []
    pending: list[ChainJob] = []
    counts = {"files": 0, "chains": 0}

    def flush() -> None:
        for group in atom_batches([j.graph.num_atoms for j in pending], atom_budget):
            jobs = [pending[i] for i in group]
            try:
                results = _compute(model, compute, jobs, precision)
            except Exception:  # a batch failed: run its chains one by one to find the culprit
                results = []
                for job in jobs:
                    try:
                        results += _compute(model, compute, [job], precision)
                    except Exception as exc:
                        failures.append({"path": str(job.path), "chain": job.chain, "reason": failure_reason(exc)})
                        results.append(None)
            for job, result in zip(jobs, results, strict=True):
                if result is not None:
                    write(job, result)
                    counts["chains"] += 1
        pending.clear()

    for item in tqdm(expand_inputs(inputs, shard), desc=desc, unit="file", disable=not progress):
        try:
            protein = load_structure(item.path, chains=item.chains)
            chains = split_chains(protein, max_chain_residues)
        except Exception as exc:  # never let one file end the batch
            failures.append({"path": str(item.path), "reason": failure_reason(exc)})
            continue
        jobs = []
        for c, sub in chains:
            try:
                jobs.append(ChainJob(item.path, item.entry_id, c, sub, graph_of(sub)))
            except Exception as exc:  # e.g. no language-model features for this chain
                failures.append({"path": str(item.path), "chain": c, "reason": failure_reason(exc)})
        counts["files"] += 1
        pending += [replace(j, siblings=len(jobs)) for j in jobs]
        if sum(j.graph.num_atoms for j in pending) >= atom_budget:
            flush()
    flush()
    write_failures(out / "failures.jsonl", failures)
    return FilesSummary(counts["files"], counts["chains"], len(failures), out)


def _compute(model: nn.Module, compute: Callable[[Batch], list], jobs: list[ChainJob], precision: str) -> list:
    [results] = run_batches(model, [j.graph.num_atoms for j in jobs], lambda i: jobs[i].graph, collate, compute,
                            precision=precision, groups=[list(range(len(jobs)))])
    if len(results) != len(jobs):
        raise RuntimeError(f"compute gave {len(results)} results for {len(jobs)} chains")
    return results
