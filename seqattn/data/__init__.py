from seqattn.data.base import KeypointSource, RawSample, find_flip_pairs
from seqattn.data.codec import Frame, KeypointCodec
from seqattn.data.datamodule import KeypointDataModule, KeypointSamples, build_datamodule

__all__ = [
    "Frame",
    "KeypointCodec",
    "KeypointDataModule",
    "KeypointSamples",
    "build_datamodule",
    "KeypointSource",
    "RawSample",
    "find_flip_pairs",
]
