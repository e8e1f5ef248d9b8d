from seqattn.models.simple import QueryDecoderModel

__all__ = ["QueryDecoderModel"]
