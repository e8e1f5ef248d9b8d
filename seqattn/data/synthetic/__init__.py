"""The embedded synthetic dataset: a rendered four-legged creature (no files, no download)."""

from seqattn.data.synthetic.dataset import SyntheticSource

__all__ = ["SyntheticSource"]
