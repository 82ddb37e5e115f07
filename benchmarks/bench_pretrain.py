"""Pre-training throughput of the real engine (Lightning, one process) on the bundled corpus.

For ``tiny`` and ``base`` (default crop 256, batch 4): optimizer steps/s, residues/s and peak memory,
each preset in a fresh process. The first steps (start-up, warm-up) are excluded from the rates.

Run: ``python benchmarks/bench_pretrain.py [--steps-tiny 30] [--steps-base 8] [--store DIR] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import resource
import tempfile
from pathlib import Path


def _case(args: tuple[str, int, str, str]) -> dict:
    preset_name, steps, store_path, mask = args
    import numpy as np

    from vabsnet.config import preset
    from vabsnet.data.store import Store
    from vabsnet.pretrain.dataset import PretrainDataset
    from vabsnet.train.pretrain import pretrain, training_keys

    cfg = preset(preset_name).override(**{"train.max_steps": steps, "pretrain.mask": mask,
                                           "train.checkpoint_every": 10**9})
    with tempfile.TemporaryDirectory() as tmp:
        pretrain(store_path, Path(tmp) / "run", cfg, progress=False, accelerator="cpu")
        with (Path(tmp) / "run" / "metrics.csv").open() as fh:
            rows = list(csv.DictReader(fh))
    store = Store(store_path)
    ds = PretrainDataset(store, training_keys(store), cfg, seed=cfg.train.seed)
    lengths = {k: min(len(s), cfg.data.crop_residues) for k, s in store.sequences().items()}
    bs = cfg.data.batch_size
    skip = 3
    t = [float(r["elapsed_s"]) for r in rows]
    residues = sum(lengths[ds.key_for(i)] for i in range(skip * bs, steps * bs))
    seconds = t[-1] - t[skip - 1]
    return {"preset": preset_name, "mask": mask, "steps_timed": steps - skip,
            "steps_per_s": round((steps - skip) / seconds, 3), "residues_per_s": round(residues / seconds, 1),
            "batch_size": bs, "crop": cfg.data.crop_residues,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "mean_residues_per_step": round(float(np.mean(list(lengths.values()))) * bs, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps-tiny", type=int, default=30)
    parser.add_argument("--steps-base", type=int, default=8)
    parser.add_argument("--store", help="a prepared store (default: prepare the bundled corpus)")
    parser.add_argument("--mask", default="span")
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            from vabsnet.data.prepare import prepare

            store = str(Path(tmp) / "store")
            prepare(["bundled"], store, workers=2, progress=False)
        results = []
        for name, steps in (("tiny", args.steps_tiny), ("base", args.steps_base)):
            with mp.get_context("spawn").Pool(1) as pool:
                res = pool.apply(_case, ((name, steps, store, args.mask),))
            results.append(res)
            print(f"pretrain {name} ({args.mask}, batch {res['batch_size']} x crop {res['crop']}): "
                  f"{res['steps_per_s']} steps/s, {res['residues_per_s']} residues/s, "
                  f"peak RSS {res['peak_rss_mb']} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
