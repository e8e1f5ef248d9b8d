from seqattn.data.base import KeypointSource, RawSample, find_flip_pairs
from seqattn.data.codec import Frame, Geometry, KeypointCodec
from seqattn.data.datamodule import KeypointDataModule, KeypointSamples, build_datamodule, build_source

__all__ = [
    "Frame",
    "Geometry",
    "KeypointCodec",
    "KeypointDataModule",
    "KeypointSamples",
    "build_datamodule",
    "build_source",
    "KeypointSource",
    "RawSample",
    "find_flip_pairs",
]
