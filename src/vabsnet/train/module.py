"""The pre-training module: encoder + heads, losses from ``vabsnet.pretrain.objectives``."""

from __future__ import annotations

import torch

from vabsnet.config import Config
from vabsnet.model import VabsEncoder
from vabsnet.pretrain.dataset import PretrainBatch
from vabsnet.pretrain.heads import PretrainHeads
from vabsnet.pretrain.objectives import LOGGED, pretrain_losses
from vabsnet.train.engine import EngineModule


class PretrainModule(EngineModule):
    metric_columns = LOGGED

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        torch.manual_seed(config.train.seed)
        self.encoder = VabsEncoder(config.encoder)
        self.heads = PretrainHeads(config.encoder.dim, config.encoder.heads)

    def training_step(self, batch: PretrainBatch, batch_idx: int) -> torch.Tensor:
        out = self.encoder(batch.graph)
        losses = pretrain_losses(self.heads(out, batch.graph), batch, self.config.pretrain)
        self.last_losses = {("loss" if k == "total" else k): v.detach() for k, v in losses.__dict__.items()}
        return losses.total
