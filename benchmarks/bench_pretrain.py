"""Training throughput of the real engine (Lightning, one process) on the bundled corpus: pre-training and
binding-site fine-tuning, end to end (data workers, featurisation, transfer, forward, backward, step).

For each preset (default ``tiny`` and ``base``, crop 256, batch 4): optimizer steps/s, residues/s and
peak memory (process RSS; GPU memory on CUDA), each case in a fresh process; the first steps (start-up,
warm-up) and the last (fine-tuning's validation pass) are excluded. Also the data pipeline alone:
pre-training examples (crop, mask, featurise) and collation per second in one process, the rate each
DataLoader worker adds.

Run: ``python benchmarks/bench_pretrain.py [--accelerator cpu|cuda] [--precision 32|bf16-mixed]
[--presets tiny,base] [--batch-size 4] [--steps 30,8] [--finetune] [--store DIR] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path


def _config(preset_name: str, steps: int, args: dict) -> object:
    from vabsnet.config import preset

    return preset(preset_name).override(**{
        "train.max_steps": steps, "pretrain.mask": args["mask"], "train.checkpoint_every": 10**9,
        "data.batch_size": args["batch_size"], "data.crop_residues": args["crop"],
        "train.precision": args["precision"], "task.eval_every": 10**6,
        "encoder.lm_dim": 0})  # the benchmark store has no language-model features: the trunk is timed without


def _rates(run: Path, steps: int, residues_of: list[int], bs: int) -> dict:
    with (run / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    skip, last = 3, steps - 1  # not the first steps (start-up), nor the last (fine-tuning validates there)
    t = [float(r["elapsed_s"]) for r in rows]
    seconds = t[last - 1] - t[skip - 1]
    residues = sum(residues_of[skip * bs: last * bs])
    return {"steps_timed": last - skip, "steps_per_s": round((last - skip) / seconds, 3),
            "residues_per_s": round(residues / seconds, 1),
            "mean_residues_per_step": round(residues / (last - skip), 1)}


def _peak(accelerator: str) -> dict:
    import torch

    out = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if accelerator == "cuda" and torch.cuda.is_available():
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def _pretrain_case(args: tuple[str, int, str, dict]) -> dict:
    preset_name, steps, store_path, opts = args
    from vabsnet.data.store import Store
    from vabsnet.pretrain.dataset import PretrainDataset
    from vabsnet.train.pretrain import pretrain, training_keys

    cfg = _config(preset_name, steps, opts)
    store = Store(store_path)
    ds = PretrainDataset(store, training_keys(store), cfg, seed=cfg.train.seed)
    lengths = {k: min(len(s), cfg.data.crop_residues) for k, s in store.sequences().items()}
    with tempfile.TemporaryDirectory() as tmp:
        pretrain(store_path, Path(tmp) / "run", cfg, progress=False, accelerator=opts["accelerator"])
        rates = _rates(Path(tmp) / "run", steps, [lengths[ds.key_for(i)] for i in range(steps * cfg.data.batch_size)],
                       cfg.data.batch_size)
    return {"run": "pretrain", "preset": preset_name, "mask": opts["mask"], **rates,
            "batch_size": cfg.data.batch_size, "crop": cfg.data.crop_residues, **_peak(opts["accelerator"])}


def _finetune_case(args: tuple[str, int, str, dict]) -> dict:
    preset_name, steps, store_path, opts = args
    from vabsnet.data.store import Store
    from vabsnet.tasks.base import build_task
    from vabsnet.train.finetune import finetune

    cfg = _config(preset_name, steps, opts)
    store = Store(store_path)
    task = build_task(cfg.task, store)
    ds = task.dataset(store, task.split_keys(store)["train"], cfg, train=True, seed=cfg.train.seed)
    residues = [ds[i][0].num_residues for i in range(steps * cfg.data.batch_size)]
    with tempfile.TemporaryDirectory() as tmp:
        finetune(store_path, Path(tmp) / "run", cfg, progress=False, accelerator=opts["accelerator"])
        rates = _rates(Path(tmp) / "run", steps, residues, cfg.data.batch_size)
    return {"run": "finetune binding-site", "preset": preset_name, **rates, "batch_size": cfg.data.batch_size,
            "crop": cfg.data.crop_residues,
            **_peak(opts["accelerator"])}


def _pipeline(store_path: str, opts: dict, n: int = 64) -> dict:
    """Pre-training examples (crop, mask, featurise) + collation in this process, no model."""
    from vabsnet.data.store import Store
    from vabsnet.pretrain.dataset import PretrainDataset, collate_pretrain
    from vabsnet.train.pretrain import training_keys

    cfg = _config("tiny", 1, opts)
    store = Store(store_path)
    ds = PretrainDataset(store, training_keys(store), cfg, seed=0)
    start = time.perf_counter()
    residues = 0
    bs = cfg.data.batch_size
    for b in range(n // bs):
        batch = collate_pretrain([ds[b * bs + i] for i in range(bs)])
        residues += batch.graph.total_residues
    seconds = time.perf_counter() - start
    return {"examples_per_s": round(n / seconds, 1), "residues_per_s": round(residues / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,base")
    parser.add_argument("--steps", default="30,8", help="steps per preset, in order")
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--precision", default="32")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--mask", default="span")
    parser.add_argument("--finetune", action="store_true", help="also binding-site fine-tuning")
    parser.add_argument("--store", help="a prepared and split store (default: the bundled corpus)")
    parser.add_argument("--json")
    args = parser.parse_args()
    opts = {k: getattr(args, k) for k in ("accelerator", "precision", "batch_size", "crop", "mask")}
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            from vabsnet.data.prepare import prepare
            from vabsnet.data.splits import split_store

            store = str(Path(tmp) / "store")
            prepare(["bundled"], store, workers=2, progress=False)
            split_store(store, identity=0.3)
        pipe = _pipeline(store, opts)
        print(f"data pipeline, one process: {pipe['examples_per_s']} pre-training examples/s, "
              f"{pipe['residues_per_s']} residues/s (crop {args.crop})")
        results = []
        pairs = zip(args.presets.split(","), args.steps.split(","), strict=True)
        cases = [(_pretrain_case, p, int(s)) for p, s in pairs]
        if args.finetune:
            cases += [(_finetune_case, p, s) for _, p, s in cases]
        for fn, name, steps in cases:
            with mp.get_context("spawn").Pool(1) as pool:
                res = pool.apply(fn, ((name, steps, store, opts),))
            results.append(res)
            print(f"{res['run']} {name} (batch {res['batch_size']} x crop {res['crop']}, {args.accelerator}, "
                  f"{args.precision}): {res['steps_per_s']} steps/s, {res['residues_per_s']} residues/s, "
                  f"peak RSS {res['peak_rss_mb']} MB"
                  + (f", GPU {res['peak_gpu_mb']} MB" if "peak_gpu_mb" in res else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"pipeline": pipe, "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
