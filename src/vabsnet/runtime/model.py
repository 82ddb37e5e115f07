"""A fine-tuned run's model: encoder + task head, saved as ``RUN/model.safetensors`` beside ``config.json`` and
``calibration.json``, loaded without flags."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vabsnet.config import Config
from vabsnet.data.batch import Batch
from vabsnet.data.store import Store
from vabsnet.model import VabsEncoder
from vabsnet.model.heads import TaskHead
from vabsnet.runtime.shipped import resolve
from vabsnet.runtime.weights import CALIBRATION_FILE, CONFIG_FILE, MODEL_FILE, CheckpointError
from vabsnet.tasks.base import Task, build_task


class FinetuneModel(nn.Module):
    """Encoder + task head; its state dict is what ``model.safetensors`` holds."""

    head: TaskHead

    def __init__(self, config: Config, task: Task) -> None:
        super().__init__()
        self.encoder = VabsEncoder(config.encoder)
        self.head = task.head(config.encoder.dim, config.encoder.layers)

    def logits(self, task: Task, batch: Batch) -> torch.Tensor:
        """``task``'s logits for a batch: ``[A, 1]`` / ``[R, 1]`` for per-atom / per-residue tasks, ``[P, T]``
        for per-protein ones (the model's precision)."""
        return task.logits(self.head, self.encoder(batch), batch)

    def scores(self, task: Task, batch: Batch) -> list[np.ndarray]:
        """``task``'s scores per chain of the batch (probabilities, computed in float32)."""
        return task.scores(self.logits(task, batch).float(), batch)


def upgrade_state(state: dict[str, torch.Tensor], model: FinetuneModel) -> dict[str, torch.Tensor]:
    """Weights saved before heads had a standardisation (``head.0.weight`` ...): the same head behind an
    identity standardisation (``head.body.0.weight`` ..., mean 0, scale 1), so older runs still load and
    predict exactly as before."""
    if any(k.startswith("head.body.") for k in state) or not any(k.startswith("head.") for k in state):
        return state
    out = {(f"head.body.{k[5:]}" if k.startswith("head.") else k): v for k, v in state.items()}
    out["head.norm.mean"] = torch.zeros_like(model.head.norm.mean)
    out["head.norm.scale"] = torch.ones_like(model.head.norm.scale)
    return out


def load_model(run: str | Path, store: Store | None = None,
               device: str | torch.device = "cpu") -> tuple[FinetuneModel, Config, Task]:
    """A fine-tuned run's model (eval mode, on ``device``), config and task (bound to ``store`` when given,
    for its labels). ``run`` may also name a shipped model (``vabsnet models``); float16 weights load into the
    float32 model."""
    from safetensors.torch import load_file

    run = resolve(run)
    if not (run / MODEL_FILE).exists() or not (run / CONFIG_FILE).exists():
        raise CheckpointError(f"{run}: no {MODEL_FILE} + {CONFIG_FILE} (run `vabsnet finetune` first)")
    config = Config.load(run / CONFIG_FILE)
    state = load_file(str(run / MODEL_FILE))
    if "head.body.3.weight" in state and getattr(config.task, "head", "mlp") == "linear":
        config = config.override(**{"task.head": "mlp"})  # saved before function heads had a choice
    task = build_task(config.task, store)
    model = FinetuneModel(config, task)
    try:
        model.load_state_dict(upgrade_state(state, model))
    except RuntimeError as exc:
        raise CheckpointError(f"{run / MODEL_FILE}: does not fit this version's {task.name} model (function "
                              f"tasks read a wider readout since the fine-tuning recipe changed; fine-tune again): "
                              f"{str(exc).splitlines()[0]}") from None
    if (run / CALIBRATION_FILE).exists():
        task.use_calibration(json.loads((run / CALIBRATION_FILE).read_text()))
    return model.to(device).eval(), config, task
