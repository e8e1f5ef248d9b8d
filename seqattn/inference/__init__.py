"""Predictions on new data: image folders and videos, in the files DeepLabCut, pandas and movement read;
the outlier frames to relabel."""

from seqattn.inference.batch import load_checkpoint, predict_images

__all__ = ["load_checkpoint", "predict_images"]
