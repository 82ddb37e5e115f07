"""Per-residue embedding throughput: vabsnet encoders against ESM-2 on the same chains.

Chains: 32 bundled chains (at most 1,000 residues each, sorted by key so every run uses the same ones),
embedded one at a time as ``vabsnet embed`` does. vabsnet timings include featurisation (kNN graphs,
frames) and the forward pass from a parsed record; ESM-2 timings include tokenisation and the forward pass
from the sequence. ESM-2 is fair-esm's ``ESM2`` class with random weights (no download is possible here):
at the parameter count of each vabsnet preset (same depth, width fitted), and at the published
``esm2_t6_8M_UR50D`` shape (6 layers, 320 wide, 20 heads), the smallest model a user would pick.
Also ``embed_files`` end to end (parse, encode, write ``.pt``) for ``tiny``.

Run: ``python benchmarks/bench_embed.py [--chains 32] [--presets tiny,base] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch


def chains(n: int) -> list:
    from vabsnet.corpus import entries
    from vabsnet.structure import load_structure

    picked = []
    for e in sorted(entries(), key=lambda e: e.id):
        for c, length in sorted(e.residues.items()):
            if length <= 1000 and len(picked) < n:
                picked.append(load_structure(e.path, chains=[c]).select_chain(c))
    return picked


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def esm2(layers: int, dim: int, heads: int) -> torch.nn.Module:
    from esm.model.esm2 import ESM2

    torch.manual_seed(0)
    return ESM2(num_layers=layers, embed_dim=dim, attention_heads=heads).eval()


def esm2_matching(target: int, layers: int) -> tuple[torch.nn.Module, int, int]:
    """ESM-2 with ``layers`` layers and the width (a multiple of 4 heads x 8) closest to ``target`` params."""
    best = None
    for dim in range(32, 1281, 32):
        heads = max(1, dim // 64) if dim % 64 == 0 else dim // 32
        count = n_params(esm2(layers, dim, heads))
        if best is None or abs(count - target) < abs(best[0] - target):
            best = (count, dim, heads)
        if count > 2 * target:
            break
    _, dim, heads = best  # type: ignore[misc]
    return esm2(layers, dim, heads), dim, heads


@torch.no_grad()
def time_vabsnet(encoder: torch.nn.Module, records: list, reps: int) -> tuple[float, int]:
    from vabsnet.embed import embed_chain

    embed_chain(encoder, records[0])  # warm-up
    start = time.perf_counter()
    for _ in range(reps):
        for protein in records:
            embed_chain(encoder, protein)
    return time.perf_counter() - start, reps * sum(p.num_residues for p in records)


@torch.no_grad()
def time_esm(model: torch.nn.Module, records: list, reps: int) -> tuple[float, int]:
    from esm.data import Alphabet

    alphabet = Alphabet.from_architecture("ESM-1b")
    convert = alphabet.get_batch_converter()
    seqs = [(p.name, p.sequence[:1022]) for p in records]
    model(convert(seqs[:1])[2], repr_layers=[model.num_layers])  # warm-up
    start = time.perf_counter()
    for _ in range(reps):
        for item in seqs:
            _, _, tokens = convert([item])
            model(tokens, repr_layers=[model.num_layers])
    return time.perf_counter() - start, reps * sum(len(s) for _, s in seqs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=32)
    parser.add_argument("--presets", default="tiny,base")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    from vabsnet.config import preset
    from vabsnet.model import VabsEncoder

    records = chains(args.chains)
    results: dict = {"chains": len(records), "residues": sum(p.num_residues for p in records),
                     "atoms": sum(p.num_atoms for p in records), "threads": torch.get_num_threads(), "cases": []}

    def record(name: str, model: torch.nn.Module, seconds: float, residues: int, **extra: object) -> None:
        case = {"model": name, "params": n_params(model), "residues_per_s": round(residues / seconds, 1),
                "chains_per_s": round(args.reps * len(records) / seconds, 2), **extra}
        results["cases"].append(case)
        print(json.dumps(case), flush=True)

    for name in args.presets.split(","):
        cfg = preset(name)
        torch.manual_seed(0)
        encoder = VabsEncoder(cfg.encoder).eval()
        seconds, residues = time_vabsnet(encoder, records, args.reps)
        record(f"vabsnet-{name}", encoder, seconds, residues, includes="featurise + forward")
        model, dim, heads = esm2_matching(n_params(encoder), cfg.encoder.layers)
        seconds, residues = time_esm(model, records, args.reps)
        record(f"esm2-matched-{name}", model, seconds, residues, includes="tokenise + forward",
               shape={"layers": cfg.encoder.layers, "dim": dim, "heads": heads})
    model = esm2(6, 320, 20)
    seconds, residues = time_esm(model, records, args.reps)
    record("esm2_t6_8M-shape", model, seconds, residues, includes="tokenise + forward",
           shape={"layers": 6, "dim": 320, "heads": 20})
    results["end_to_end"] = end_to_end(records)
    print(json.dumps({"end_to_end": results["end_to_end"]}))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


def end_to_end(records: list) -> dict:
    """``embed_files`` on the chains' source files (parse, featurise, encode, write), tiny preset."""
    from vabsnet.config import preset
    from vabsnet.embed import embed_files
    from vabsnet.model import VabsEncoder
    from vabsnet.runtime import save_encoder

    cfg = preset("tiny")
    files = sorted({p.source for p in records})
    with tempfile.TemporaryDirectory() as tmp:
        save_encoder(VabsEncoder(cfg.encoder), Path(tmp) / "encoder.safetensors", cfg)
        (Path(tmp) / "config.json").write_text(cfg.to_json())
        start = time.perf_counter()
        summary = embed_files(Path(tmp) / "encoder.safetensors", files, Path(tmp) / "out", progress=False)
        seconds = time.perf_counter() - start
    return {"files": len(files), "chains": summary.chains, "seconds": round(seconds, 2),
            "chains_per_s": round(summary.chains / seconds, 2)}


if __name__ == "__main__":
    main()
