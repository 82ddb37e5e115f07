"""Encoder throughput on real chains of the bundled corpus.

For presets x crops x batch sizes (a batch of the longest bundled chains, each cropped to its first
``crop`` residues) and attention implementations: forward and forward+backward residues/s and atoms/s,
peak memory (each case in a fresh process), speed-ups over the scatter reference / the gather path, and the
machine's measured fp32 / bf16 matmul FLOP/s with the model's achieved FLOP/s (matmul FLOPs counted by
``torch.utils.flop_counter``) as a fraction of it. With fair-esm installed, ESM-2 shapes (random weights)
are measured in the same run, forward+backward on the same number of residues (``--esm 150M,650M``).

Run: ``python benchmarks/bench_encoder.py [--device cpu|cuda] [--reps 3] [--json OUT]``; on a GPU the
defaults are the issue's cases: ``paper,base`` x batch ``4,16,32`` x crop 256, ``fused`` and ``gather``,
bf16.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import resource
import time

import numpy as np
import torch


def matmul_flops(device: str, dtype: torch.dtype, n: int = 1024, reps: int = 10) -> float:
    n = 8192 if device == "cuda" else n
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _batch(crop: int, cfg: object, size: int = 2) -> object:
    from vabsnet.corpus import entries
    from vabsnet.data.batch import collate
    from vabsnet.features import featurize
    from vabsnet.structure import load_structure

    longest = sorted(((n, e.path, c) for e in entries() for c, n in e.residues.items()),
                     key=lambda x: (-x[0], str(x[1]), x[2]))[:size]
    chains = [load_structure(path).select_chain(c) for _, path, c in longest]
    picked = [p.crop(0, crop) for p in chains]
    d = cfg.lm_dim  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)  # random stand-ins for ESM features (timing only): the paper model takes them
    return collate([featurize(p, cfg, lm=rng.standard_normal((p.num_residues, d)).astype(np.float32) if d else None,
                              lm_cls=rng.standard_normal(d).astype(np.float32) if d else None)
                    for p in picked])  # type: ignore[arg-type]


def _esm_case(args: tuple[str, int, int, str, int]) -> dict:
    """ESM-2 at a published shape, random weights, forward+backward on ``size`` x ``crop`` tokens."""
    import esm

    shape, crop, size, device, reps = args
    layers, dim, heads = {"8M": (6, 320, 20), "35M": (12, 480, 20), "150M": (30, 640, 20),
                          "650M": (33, 1280, 20)}[shape]
    model = esm.ESM2(num_layers=layers, embed_dim=dim, attention_heads=heads).to(device)
    tokens = torch.randint(4, 24, (size, crop), device=device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16):
            out = model(tokens)["logits"]
        out.float().pow(2).mean().backward()

    step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        step()
    _sync(device)
    t = (time.perf_counter() - start) / reps
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else float("nan")
    params = sum(p.numel() for p in model.parameters())
    flops = 6 * params * size * crop  # dense-model rule of thumb (attention over 256 tokens is small)
    return {"model": f"ESM-2 {shape} shape", "batch": size, "crop": crop, "params_m": round(params / 1e6, 1),
            "train_residues_per_s": round(size * crop / t), "train_gflop_per_s": round(flops / t / 1e9, 1),
            "peak_mb": round(peak, 1)}


def _case(args: tuple) -> dict:
    preset_name, crop, attention, device, reps, precision, size, recompute, edges = args
    from torch.utils.flop_counter import FlopCounterMode

    from vabsnet.config import preset
    from vabsnet.model import VabsEncoder

    torch.manual_seed(0)
    cfg = dataclasses.replace(preset(preset_name).encoder, attention=attention, checkpoint=recompute)
    if edges:
        cfg = dataclasses.replace(cfg, edge_encoder=edges)
    batch = _batch(crop, cfg, size).to(device)
    model = VabsEncoder(cfg).to(device).train()
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16")
    with torch.no_grad(), FlopCounterMode(display=False) as counter, autocast:
        model.eval()(batch)
    model.train()
    flops_fwd = counter.get_total_flops()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def run(train: bool) -> float:
        start = time.perf_counter()
        for _ in range(reps):
            with autocast:
                if train:
                    out = model(batch)
                    (out.node.float() ** 2).mean().backward()
                else:
                    with torch.no_grad():
                        model(batch)
        _sync(device)
        return (time.perf_counter() - start) / reps

    run(False)
    t_fwd = run(False)
    run(True)
    t_train = run(True)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    r, a = batch.total_residues, batch.total_atoms
    return {
        "preset": preset_name, "crop": crop, "batch": size, "attention": attention, "device": device,
        "precision": precision, "checkpoint": recompute, "edges": cfg.edge_encoder,
        "params_m": round(model.num_parameters() / 1e6, 2), "residues": r, "atoms": a,
        "fwd_s": round(t_fwd, 4), "train_s": round(t_train, 4),
        "fwd_residues_per_s": round(r / t_fwd), "fwd_atoms_per_s": round(a / t_fwd),
        "train_residues_per_s": round(r / t_train), "train_atoms_per_s": round(a / t_train),
        "fwd_gflops": round(flops_fwd / 1e9, 2), "fwd_gflop_per_s": round(flops_fwd / t_fwd / 1e9, 2),
        "train_gflop_per_s": round(3 * flops_fwd / t_train / 1e9, 2),
        "peak_mb": round(peak, 1), "rss_before_mb": round(rss0 / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--presets", help="default: tiny,base on CPU, paper,base on CUDA")
    parser.add_argument("--crops", help="default: 256,800 on CPU, 256 on CUDA")
    parser.add_argument("--batches", help="chains per batch; default: 2 on CPU, 4,16,32 on CUDA")
    parser.add_argument("--attention", help="default: gather,reference on CPU, fused,gather on CUDA")
    parser.add_argument("--precisions", help="fp32 and/or bf16; default: both on CPU, bf16 on CUDA")
    parser.add_argument("--checkpoint", action="store_true", help="with activation checkpointing")
    parser.add_argument("--edges", default="", help="edge encoders, e.g. linear,vector (default: the preset's)")
    parser.add_argument("--esm", default="", help="ESM-2 shapes to measure alongside, e.g. 150M,650M")
    parser.add_argument("--json")
    args = parser.parse_args()
    dev = args.device
    gpu = dev == "cuda"
    presets = (args.presets or ("paper,base" if gpu else "tiny,base")).split(",")
    crops = [int(c) for c in (args.crops or ("256" if gpu else "256,800")).split(",")]
    batches = [int(b) for b in (args.batches or ("4,16,32" if gpu else "2")).split(",")]
    attentions = (args.attention or ("fused,gather" if gpu else "gather,reference")).split(",")
    precisions = (args.precisions or ("bf16" if gpu else "fp32,bf16")).split(",")
    machine = {"fp32_gflop_per_s": round(matmul_flops(dev, torch.float32) / 1e9, 1),
               "bf16_gflop_per_s": round(matmul_flops(dev, torch.bfloat16) / 1e9, 1),
               "threads": torch.get_num_threads(), "device": dev,
               "card": torch.cuda.get_device_name() if gpu else "cpu"}
    print(f"machine matmul: fp32 {machine['fp32_gflop_per_s']} GFLOP/s, bf16 {machine['bf16_gflop_per_s']} "
          f"GFLOP/s ({machine['card']}, {machine['threads']} threads)")
    edge_kinds = args.edges.split(",") if args.edges else [""]
    cases = [(p, c, att, dev, args.reps, prec, b, args.checkpoint, e) for p in presets for c in crops
             for b in batches for att in attentions for prec in precisions for e in edge_kinds
             if not (att == "reference" and prec == "bf16")]
    ctx = mp.get_context("spawn")
    results = []
    for case in cases:
        with ctx.Pool(1) as pool:  # a fresh process per case: peak memory is its own
            try:
                res = pool.apply(_case, (case,))
            except Exception as exc:  # e.g. out of memory: report and go on
                print(f"{case[0]} crop {case[1]} batch {case[6]} {case[2]} {case[5]}: failed ({exc})")
                continue
        peak_ref = machine["bf16_gflop_per_s"] if res["precision"] == "bf16" else machine["fp32_gflop_per_s"]
        res["train_fraction_of_peak"] = round(res["train_gflop_per_s"] / peak_ref, 3)
        results.append(res)
        print(f"{res['preset']:5s} crop {res['crop']:4d} x{res['batch']:3d} {res['attention']:9s} "
              f"{res['precision']} {res['edges']} edges: fwd {res['fwd_residues_per_s']} res/s "
              f"{res['fwd_atoms_per_s']} atoms/s | "
              f"fwd+bwd {res['train_residues_per_s']} res/s {res['train_atoms_per_s']} atoms/s | "
              f"{res['train_gflop_per_s']} GFLOP/s ({res['train_fraction_of_peak']:.1%} of matmul peak) | "
              f"peak {res['peak_mb']} MB")
    speedups = []
    base_impl = "reference" if "reference" in attentions else "gather"
    for res in results:
        if res["attention"] == base_impl:
            continue
        ref = next((r for r in results if r["attention"] == base_impl and r["preset"] == res["preset"]
                    and r["crop"] == res["crop"] and r["batch"] == res["batch"]
                    and r["precision"] == res["precision"] and r["edges"] == res["edges"]), None)
        if ref is None:
            continue
        s = {"preset": res["preset"], "crop": res["crop"], "batch": res["batch"], "attention": res["attention"],
             "over": base_impl, "fwd_speedup": round(ref["fwd_s"] / res["fwd_s"], 2),
             "train_speedup": round(ref["train_s"] / res["train_s"], 2)}
        speedups.append(s)
        print(f"{s['attention']} vs {base_impl}, {s['preset']} crop {s['crop']} x{s['batch']}: "
              f"forward x{s['fwd_speedup']}, forward+backward x{s['train_speedup']}")
    esm_results = []
    for shape in [x for x in args.esm.split(",") if x]:
        for b in batches:
            with ctx.Pool(1) as pool:
                try:
                    res = pool.apply(_esm_case, ((shape, crops[0], b, dev, args.reps),))
                except Exception as exc:
                    print(f"ESM-2 {shape} x{b}: failed ({exc})")
                    continue
            res["train_fraction_of_peak"] = round(res["train_gflop_per_s"] / machine["bf16_gflop_per_s"], 3)
            esm_results.append(res)
            print(f"{res['model']} crop {res['crop']} x{b}: fwd+bwd {res['train_residues_per_s']} res/s, "
                  f"{res['train_fraction_of_peak']:.1%} of bf16 peak, peak {res['peak_mb']} MB")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": machine, "cases": results, "speedups": speedups, "esm": esm_results}, fh,
                      indent=2)


if __name__ == "__main__":
    main()
