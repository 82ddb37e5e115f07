"""Run every benchmark and write ``benchmarks/results.json`` with the machine it ran on.

Each benchmark runs in its own process (clean peak-memory figures) and writes its JSON; this script
collects them. ``--quick`` uses fewer presets, steps and chains (a few minutes on 2 CPU cores).

Run: ``python benchmarks/run_all.py [--quick] [--out benchmarks/results.json]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> dict:
    import torch

    import vabsnet

    info = {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
            "platform": platform.platform(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "vabsnet": vabsnet.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                           if line.startswith("model name"))
        meminfo = Path("/proc/meminfo").read_text().split()
        info["memory_gib"] = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return info


def benchmarks(quick: bool) -> dict[str, list[str]]:
    return {
        "prepare": ["bench_prepare.py"],
        "encoder": ["bench_encoder.py", "--reps", "2" if quick else "3",
                    "--presets", "tiny" if quick else "tiny,base", "--crops", "256" if quick else "256,800"],
        "pretrain": ["bench_pretrain.py", "--steps", "15,5" if quick else "30,8", "--finetune"],
        "embed": ["bench_embed.py", "--chains", "16" if quick else "32",
                  "--presets", "tiny" if quick else "tiny,base"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated subset of prepare,encoder,pretrain,embed")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    selected = benchmarks(args.quick)
    if args.only:
        selected = {k: v for k, v in selected.items() if k in args.only.split(",")}
    results: dict = {"machine": machine(), "quick": args.quick, "benchmarks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (script, *flags) in selected.items():
            out = Path(tmp) / f"{name}.json"
            print(f"== {name}: {script} {' '.join(flags)}", flush=True)
            start = time.monotonic()
            proc = subprocess.run([sys.executable, str(HERE / script), *flags, "--json", str(out)], check=False)
            entry: dict = {"seconds": round(time.monotonic() - start, 1), "returncode": proc.returncode}
            if proc.returncode == 0 and out.exists():
                entry["result"] = json.loads(out.read_text())
            results["benchmarks"][name] = entry
    tmp_out = args.out.with_name(f".{args.out.name}.tmp")
    tmp_out.write_text(json.dumps(results, indent=2) + "\n")
    tmp_out.replace(args.out)
    print(f"wrote {args.out}")
    if any(e["returncode"] for e in results["benchmarks"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
