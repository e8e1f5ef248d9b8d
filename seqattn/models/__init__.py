from seqattn.models.sequential import SequentialAttentionModel

__all__ = ["SequentialAttentionModel"]
