from seqattn.models.detector import AnimalDetector
from seqattn.models.sequential import SequentialAttentionModel

__all__ = ["AnimalDetector", "SequentialAttentionModel"]
