"""The GPU check: every GPU figure vabsnet still owes, in one call of at most 8 minutes on an H100/H200.

    python benchmarks/gpu_check.py --out gpu_check.json            # on the GPU machine
    python benchmarks/gpu_check.py --dry --out /tmp/dry.json       # on a CPU: the same code paths, tiny cases

Stages, each in its own process (a failure is recorded and the next stage runs), written to one JSON with
the card named after every stage (an interrupted check still leaves what it measured):

1. ``kernel_tests``: the fused kNN-attention kernel's tests compiled (``TRITON_INTERPRET`` unset), against the
   gather and reference implementations, values and gradients.
2. ``matmul``: the measured fp32 and bf16 matmul peak of the card (the reference for "share of peak").
3. ``encoder``: forward+backward of the encoder, ``paper`` and ``base``, ``fused`` against ``gather``, bf16,
   32 chains x 256 residues, and one complex of about 10,000 residues: residues/s, share of the bf16 matmul
   peak, peak memory.
4. ``pretrain``: end-to-end pre-training steps through the engine (data, featurisation, transfer, step) on a
   prepared store, against the encoder-only rate of the same preset and batch.
5. ``esm``: ESM-2 at the matched sizes (150M against ``base``-ish, 650M against ``paper``) when ``esm`` (fair-esm)
   is importable.

A bare machine with torch and lightning: carry the wheels of vabsnet's other dependencies (``pip download``
them here into a folder that git ignores) and install them with ``--no-index --find-links``; the bundled
corpus ships in the package, so the pre-training stage prepares its store there. ``--dry`` runs every stage
at ``tiny`` size on the CPU (CI runs it so the script cannot rot); its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_encoder  # noqa: E402  (a sibling script)
import bench_pretrain  # noqa: E402


def card() -> str:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu (no GPU)"


def _in_process(fn: object, arg: object, timeout: float) -> dict:
    """``fn(arg)`` in a fresh spawned process (own peak memory, own CUDA context); errors are returned."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        try:
            return pool.apply_async(fn, (arg,)).get(timeout=timeout)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - a failed case is a finding, not the end of the check
            return {"error": f"{type(exc).__name__}: {exc}"}


def kernel_tests(dry: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if dry:
        env["TRITON_INTERPRET"] = "1"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", str(ROOT / "tests/model/test_knn_kernel.py"),
                           *(["-k", "matches"] if dry else [])], capture_output=True, text=True, env=env, cwd=ROOT)
    lines = proc.stdout.strip().splitlines()
    return {"returncode": proc.returncode, "summary": lines[-1] if lines else proc.stderr[-500:],
            "compiled": not dry and torch.cuda.is_available(), "seconds": round(time.monotonic() - t0, 1)}


def encoder_cases(dry: bool) -> list[tuple]:
    """(preset, crop, attention, device, reps, precision, chains, checkpoint, edges) cases."""
    if dry:  # the fused kernel only runs interpreted on a CPU (too slow for a case): gather and reference
        return [("tiny", 48, attention, "cpu", 1, "fp32", 2, False, "") for attention in ("gather", "reference")]
    out = []
    for preset in ("paper", "base"):
        for attention in ("fused", "gather"):
            out.append((preset, 256, attention, "cuda", 3, "bf16", 32, False, ""))
            out.append((preset, 10_000, attention, "cuda", 2, "bf16", 20, False, ""))  # 20 whole chains
    return out


def encoder_stage(dry: bool, peak_bf16: float) -> list[dict]:
    results = []
    for case in encoder_cases(dry):
        res = _in_process(bench_encoder._case, case, timeout=120)
        res.setdefault("case", list(case))
        if "train_gflop_per_s" in res and peak_bf16:
            res["train_fraction_of_bf16_peak"] = round(res["train_gflop_per_s"] / peak_bf16, 4)
        results.append(res)
        print(json.dumps({k: res.get(k) for k in ("preset", "crop", "batch", "attention", "residues",
                                                  "train_residues_per_s", "train_fraction_of_bf16_peak",
                                                  "peak_mb", "error")}), flush=True)
    return results


def pretrain_stage(dry: bool, store: Path) -> list[dict]:
    opts = {"mask": "span", "batch_size": 2 if dry else 16, "crop": 48 if dry else 256,
            "precision": "32" if dry else "bf16-mixed", "accelerator": "cpu" if dry else "cuda"}
    preset_steps = [("tiny", 5)] if dry else [("base", 40), ("paper", 20)]
    out = []
    for preset, steps in preset_steps:
        e2e = _in_process(bench_pretrain._pretrain_case, (preset, steps, str(store), opts), timeout=240)
        encoder = _in_process(bench_encoder._case, (preset, opts["crop"], "auto" if not dry else "gather",
                                                    "cpu" if dry else "cuda", 2, "fp32" if dry else "bf16",
                                                    opts["batch_size"], False, ""), timeout=120)
        row = {"preset": preset, "end_to_end": e2e, "encoder_only": encoder}
        if "residues_per_s" in e2e and "train_residues_per_s" in encoder:
            row["end_to_end_over_encoder"] = round(e2e["residues_per_s"] / encoder["train_residues_per_s"], 3)
        out.append(row)
        print(json.dumps({"preset": preset, "ratio": row.get("end_to_end_over_encoder")}), flush=True)
    return out


def esm_stage(dry: bool) -> list[dict]:
    try:
        import esm  # noqa: F401
    except ImportError:
        return [{"skipped": "fair-esm is not importable here (pip install fair-esm)"}]
    shapes = [("8M", 48, 2, "cpu")] if dry else [("150M", 256, 32, "cuda"), ("650M", 256, 32, "cuda")]
    return [_in_process(bench_encoder._esm_case, (shape, crop, size, dev, 1 if dry else 3), timeout=120)
            for shape, crop, size, dev in shapes]


def prepare_store(where: Path) -> Path:
    from vabsnet.data.prepare import prepare
    from vabsnet.data.splits import split_store

    store = where / "store"
    prepare(["bundled"], store, workers=min(8, os.cpu_count() or 1), progress=False)
    split_store(store, identity=0.3)
    return store


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="gpu_check.json")
    p.add_argument("--dry", action="store_true", help="tiny cases on the CPU: checks the script, not the GPU")
    p.add_argument("--store", help="a prepared, split store (default: the bundled corpus, prepared here)")
    p.add_argument("--stages", default="kernel_tests,matmul,encoder,pretrain,esm")
    args = p.parse_args()
    if not args.dry and not torch.cuda.is_available():
        sys.exit("no CUDA device: run on a GPU machine, or --dry on a CPU")
    out = Path(args.out)
    result: dict = {"card": card(), "dry": args.dry, "torch": torch.__version__, "stages": {}, "seconds": {}}

    def save() -> None:
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, out)

    stages = args.stages.split(",")
    peak = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for stage in stages:
            t0 = time.monotonic()
            print(f"[gpu_check] {stage} on {result['card']}", flush=True)
            if stage == "kernel_tests":
                value: object = kernel_tests(args.dry)
            elif stage == "matmul":
                dev = "cpu" if args.dry else "cuda"
                value = {"fp32_tflop_per_s": round(bench_encoder.matmul_flops(dev, torch.float32) / 1e12, 2),
                         "bf16_tflop_per_s": round(bench_encoder.matmul_flops(dev, torch.bfloat16) / 1e12, 2)}
                peak = value["bf16_tflop_per_s"] * 1e3  # type: ignore[index]
            elif stage == "encoder":
                value = encoder_stage(args.dry, peak)
            elif stage == "pretrain":
                value = pretrain_stage(args.dry, Path(args.store) if args.store else prepare_store(Path(tmp)))
            elif stage == "esm":
                value = esm_stage(args.dry)
            else:
                raise SystemExit(f"unknown stage {stage!r}")
            result["stages"][stage] = value
            result["seconds"][stage] = round(time.monotonic() - t0, 1)
            save()
    print(f"[gpu_check] {out} written ({sum(result['seconds'].values()):.0f} s)")


if __name__ == "__main__":
    main()
