"""`benchmarks/gpu_check.py --dry` runs every stage of the GPU check on the CPU, so the script a lent GPU
runs first cannot rot between GPU sessions. Its numbers mean nothing; its structure is what is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_dry_run(make_store, tmp_path):
    store = make_store("gpucheck", ["1AFS", "19hc", "1a28", "4CUP"], (0.5, 0.25, 0.25))
    out = tmp_path / "check.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks/gpu_check.py"), "--dry", "--out", str(out),
                           "--store", str(store)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["dry"] and result["card"] == "cpu (no GPU)"
    stages = result["stages"]
    assert list(stages) == ["kernel_tests", "matmul", "encoder", "pretrain", "esm"]
    assert stages["kernel_tests"]["returncode"] == 0 and "passed" in stages["kernel_tests"]["summary"]
    assert stages["matmul"]["bf16_tflop_per_s"] > 0
    assert [c["attention"] for c in stages["encoder"]] == ["gather", "reference"]
    assert all(c["train_residues_per_s"] > 0 and "error" not in c for c in stages["encoder"])
    (row,) = stages["pretrain"]
    assert row["end_to_end"]["steps_per_s"] > 0 and row["end_to_end_over_encoder"] > 0
    assert "error" not in stages["esm"][0]
