"""ESM-2 features computed with fair-esm (``pip install fair-esm``), from local weights only.

``load_esm("esm2_t33_650M_UR50D")`` reads fair-esm's own cache (``$TORCH_HOME/hub/checkpoints/<name>.pt``,
filled by ``esm.pretrained.<name>()`` on a machine with internet); a path to a ``.pt`` file works too.
Nothing is downloaded here. Per chain: the chosen layer's token states without BOS/EOS ``[L, D]`` and the
BOS state ``[D]`` (the reference code's ``esm_cls_feat``), as float16.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from vabsnet.errors import LMFeatureError
from vabsnet.features.lm import LMFeatures

DEFAULT_MODEL = "esm2_t33_650M_UR50D"  # the published model's features (layer 33, 1280-d)


def model_path(model: str) -> Path:
    """A local ``.pt`` file for ``model`` (a path, or a fair-esm model name looked up in its cache)."""
    path = Path(model).expanduser()
    if path.suffix == ".pt" or path.exists():
        if not path.is_file():
            raise LMFeatureError(f"{path}: no such ESM weights file")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / f"{model}.pt"
    if not cached.is_file():
        raise LMFeatureError(f"{model}: not in fair-esm's cache ({cached}); nothing is downloaded here. On a "
                             f"machine with internet run `python -c \"import esm; esm.pretrained.{model}()\"` "
                             "and copy the file, or pass the path of a .pt file")
    return cached


def load_esm(model: str) -> tuple[torch.nn.Module, object, str]:
    """``(model, alphabet, name)`` from local weights (see :func:`model_path`)."""
    try:
        import esm
    except ImportError:
        raise LMFeatureError("computing ESM features needs fair-esm: pip install fair-esm") from None
    path = model_path(model)
    try:  # a trusted local checkpoint; fair-esm's files hold argparse namespaces, so not weights_only
        data = torch.load(path, map_location="cpu", weights_only=False)
        with warnings.catch_warnings():  # "Regression weights not found": contacts are not used here
            warnings.simplefilter("ignore", UserWarning)
            net, alphabet = esm.pretrained.load_model_and_alphabet_core(path.stem, data, None)
    except Exception as exc:
        raise LMFeatureError(f"{path}: not a fair-esm checkpoint ({type(exc).__name__}: {exc})") from None
    return net.eval(), alphabet, path.stem


@torch.no_grad()
def esm_features(sequences: dict[str, str], net: torch.nn.Module, alphabet: object, name: str, *,
                 layer: int | None = None, device: str | torch.device = "cpu",
                 max_tokens: int = 4096) -> Iterator[tuple[str, LMFeatures]]:
    """``(key, features)`` for each sequence, in batches of at most ``max_tokens`` tokens (longest first)."""
    depth = int(net.num_layers)  # type: ignore[arg-type]  # an ESM-2 model's attribute
    layer = depth if layer is None else layer
    if not 0 <= layer <= depth:
        raise LMFeatureError(f"{name} has layers 0..{depth}, not {layer}")
    net = net.to(device)
    convert = alphabet.get_batch_converter()  # type: ignore[attr-defined]
    source = f"{name} layer {layer}, sequence feature: bos"
    order = sorted(sequences, key=lambda k: -len(sequences[k]))
    batch: list[str] = []
    for i, key in enumerate(order):
        batch.append(key)
        nxt = order[i + 1] if i + 1 < len(order) else None
        width = len(sequences[batch[0]]) + 2  # padded to the longest, which comes first
        if nxt is not None and width * (len(batch) + 1) <= max_tokens:
            continue
        _, _, tokens = convert([(k, sequences[k]) for k in batch])
        states = net(tokens.to(device), repr_layers=[layer])["representations"][layer].float().cpu()
        for j, k in enumerate(batch):
            n = len(sequences[k])
            yield k, LMFeatures(states[j, 1:n + 1].numpy().astype(np.float16), states[j, 0].numpy().astype(np.float16),
                                source)
        batch = []
