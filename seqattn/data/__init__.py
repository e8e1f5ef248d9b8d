from seqattn.data.base import KeypointSource, RawSample, find_flip_pairs
from seqattn.data.codec import Frame, KeypointCodec
from seqattn.data.datamodule import KeypointDataModule, KeypointSamples

__all__ = [
    "Frame",
    "KeypointCodec",
    "KeypointDataModule",
    "KeypointSamples",
    "KeypointSource",
    "RawSample",
    "find_flip_pairs",
]
