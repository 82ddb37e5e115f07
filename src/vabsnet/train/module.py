"""The pre-training LightningModule: encoder + heads, losses from ``vabsnet.pretrain.objectives``."""

from __future__ import annotations

import lightning as L
import torch

from vabsnet.config import Config
from vabsnet.model import VabsEncoder
from vabsnet.pretrain.dataset import PretrainBatch
from vabsnet.pretrain.heads import PretrainHeads
from vabsnet.pretrain.objectives import pretrain_losses


def warmup_linear(warmup: int, total: int):  # noqa: ANN201 - returns a plain function (picklable state)
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


class PretrainModule(L.LightningModule):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        torch.manual_seed(config.train.seed)
        self.encoder = VabsEncoder(config.encoder)
        self.heads = PretrainHeads(config.encoder.dim, config.encoder.heads)
        self.last_losses: dict[str, torch.Tensor] = {}

    def training_step(self, batch: PretrainBatch, batch_idx: int) -> torch.Tensor:
        out = self.encoder(batch.graph)
        losses = pretrain_losses(self.heads(out, batch.graph), batch, self.config.pretrain)
        self.last_losses = {k: v.detach() for k, v in losses.__dict__.items()}
        return losses.total

    def configure_optimizers(self) -> dict:
        t = self.config.train
        opt = torch.optim.AdamW(self.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_linear(t.warmup_steps, t.max_steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def transfer_batch_to_device(self, batch: PretrainBatch, device: torch.device,
                                 dataloader_idx: int) -> PretrainBatch:
        return batch.to(device)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["vabsnet_config"] = self.config.to_json()
