"""Encoder throughput on real chains of the bundled corpus.

For the ``tiny`` and ``base`` presets and crops of 256 and 800 residues (a batch of 2 of the longest
bundled chains, cropped): forward and forward+backward residues/s and atoms/s, peak memory (each case in a
fresh process), speed-up of the gather attention over the scatter reference, and the machine's measured
fp32 / bf16 matmul FLOP/s with the model's achieved FLOP/s (matmul FLOPs counted by
``torch.utils.flop_counter``) as a fraction of it.

Run: ``python benchmarks/bench_encoder.py [--device cpu|cuda] [--reps 3] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import resource
import time

import torch


def matmul_flops(device: str, dtype: torch.dtype, n: int = 1024, reps: int = 10) -> float:
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


def _batch(crop: int, cfg: object) -> object:
    from vabsnet.corpus import entries
    from vabsnet.data.batch import collate
    from vabsnet.features import featurize
    from vabsnet.structure import load_structure

    longest = sorted(((n, e.path, c) for e in entries() for c, n in e.residues.items()),
                     key=lambda x: (-x[0], str(x[1]), x[2]))[:2]
    chains = [load_structure(path).select_chain(c) for _, path, c in longest]
    picked = [p.crop(0, crop) for p in chains]
    return collate([featurize(p, cfg) for p in picked])  # type: ignore[arg-type]


def _case(args: tuple[str, int, str, str, int, str]) -> dict:
    preset_name, crop, attention, device, reps, precision = args
    from torch.utils.flop_counter import FlopCounterMode

    from vabsnet.config import preset
    from vabsnet.model import VabsEncoder

    torch.manual_seed(0)
    cfg = dataclasses.replace(preset(preset_name).encoder, attention=attention)
    batch = _batch(crop, cfg).to(device)
    model = VabsEncoder(cfg).to(device)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16")
    with torch.no_grad(), FlopCounterMode(display=False) as counter, autocast:
        model(batch)
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
        "preset": preset_name, "crop": crop, "attention": attention, "device": device, "precision": precision,
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
    parser.add_argument("--presets", default="tiny,base")
    parser.add_argument("--crops", default="256,800")
    parser.add_argument("--json")
    args = parser.parse_args()
    dev = args.device
    machine = {"fp32_gflop_per_s": round(matmul_flops(dev, torch.float32) / 1e9, 1),
               "bf16_gflop_per_s": round(matmul_flops(dev, torch.bfloat16) / 1e9, 1),
               "threads": torch.get_num_threads(), "device": dev}
    print(f"machine matmul: fp32 {machine['fp32_gflop_per_s']} GFLOP/s, bf16 {machine['bf16_gflop_per_s']} "
          f"GFLOP/s ({dev}, {machine['threads']} threads)")
    precisions = ["fp32", "bf16"]
    cases = [(p, int(c), att, dev, args.reps, prec) for p in args.presets.split(",")
             for c in args.crops.split(",") for att in ("gather", "reference") for prec in precisions
             if not (att == "reference" and prec == "bf16")]
    ctx = mp.get_context("spawn")
    results = []
    for case in cases:
        with ctx.Pool(1) as pool:  # a fresh process per case: peak memory is its own
            res = pool.apply(_case, (case,))
        peak_ref = machine["bf16_gflop_per_s"] if res["precision"] == "bf16" else machine["fp32_gflop_per_s"]
        res["train_fraction_of_peak"] = round(res["train_gflop_per_s"] / peak_ref, 3)
        results.append(res)
        print(f"{res['preset']:5s} crop {res['crop']:4d} {res['attention']:9s} {res['precision']}: "
              f"fwd {res['fwd_residues_per_s']} res/s {res['fwd_atoms_per_s']} atoms/s | fwd+bwd "
              f"{res['train_residues_per_s']} res/s {res['train_atoms_per_s']} atoms/s | "
              f"{res['train_gflop_per_s']} GFLOP/s ({res['train_fraction_of_peak']:.1%} of matmul peak) | "
              f"peak {res['peak_mb']} MB")
    speedups = []
    for res in results:
        if res["attention"] == "gather" and res["precision"] == "fp32":
            ref = next(r for r in results if r["attention"] == "reference" and r["preset"] == res["preset"]
                       and r["crop"] == res["crop"])
            s = {"preset": res["preset"], "crop": res["crop"],
                 "fwd_speedup": round(ref["fwd_s"] / res["fwd_s"], 2),
                 "train_speedup": round(ref["train_s"] / res["train_s"], 2)}
            speedups.append(s)
            print(f"gather vs reference attention, {s['preset']} crop {s['crop']}: forward x{s['fwd_speedup']}, "
                  f"forward+backward x{s['train_speedup']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": machine, "cases": results, "speedups": speedups}, fh, indent=2)


if __name__ == "__main__":
    main()
