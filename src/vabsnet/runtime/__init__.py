"""Loading and running models, for inference and training alike: devices and precision, weight files, the
fine-tuned model, batched encoding. Nothing here imports the training engine (Lightning): ``embed``,
``predict``, ``pockets`` and ``dock`` run a model with this layer only."""

from vabsnet.runtime.device import autocast, resolve_device
from vabsnet.runtime.encode import run_batches
from vabsnet.runtime.model import FinetuneModel, load_model
from vabsnet.runtime.weights import (
    CALIBRATION_FILE,
    CONFIG_FILE,
    ENCODER_FILE,
    MODEL_FILE,
    CheckpointError,
    load_encoder,
    save_encoder,
    save_weights,
)

__all__ = ["CALIBRATION_FILE", "CONFIG_FILE", "ENCODER_FILE", "MODEL_FILE", "CheckpointError", "FinetuneModel",
           "autocast", "load_encoder", "load_model", "resolve_device", "run_batches", "save_encoder", "save_weights"]
