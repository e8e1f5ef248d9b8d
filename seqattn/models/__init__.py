from seqattn.models.sequential import SequentialAttentionModel
from seqattn.models.simple import QueryDecoderModel

__all__ = ["QueryDecoderModel", "SequentialAttentionModel"]
