"""The Vabs-Net encoder and heads."""

from vabsnet.model.encoder import VabsEncoder
from vabsnet.model.heads import ClsHead
from vabsnet.model.outputs import EncoderOutput

__all__ = ["ClsHead", "EncoderOutput", "VabsEncoder"]
