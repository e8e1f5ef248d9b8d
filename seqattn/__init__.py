"""seqattn: precise keypoint localization with sequential attention, on Lightning + Hydra."""

__version__ = "0.1.0"
