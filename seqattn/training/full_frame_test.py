"""The test split of labels with several animals, evaluated on whole frames as SLEAP and COCO do:
the detector and the pose model find every animal (seqattn.inference.full_frame), identities are
tracked along the split's frames in order (seqattn.inference.tracking, at most the labels' number
of animals), and predictions are matched to the labelled animals frame by frame
(seqattn.evaluation.instances: matched keypoint error, instance recall and precision, OKS mAP,
identity switches)."""

from __future__ import annotations

import logging

import numpy as np

from seqattn.data.base import FrameSplit
from seqattn.evaluation.instances import FullFrameMetrics
from seqattn.inference.batch import ready_for_inference
from seqattn.inference.full_frame import Animals, predict_animals
from seqattn.inference.tracking import track
from seqattn.module import KeypointModule

log = logging.getLogger(__name__)
BATCH = 16  # frames per detector batch


def full_frame_test(module: KeypointModule, frames: FrameSplit, device: str = "cpu") -> dict[str, float | str]:
    """Metrics of the whole pipeline on ``frames`` (the test split's whole frames), as a plain dict."""
    module = ready_for_inference(module, device)
    found: list[Animals] = []
    for start in range(0, len(frames), BATCH):
        found += predict_animals(module, [frames.image(i) for i in range(start, min(start + BATCH, len(frames)))])
    tracks = track([(a.coords, a.scores) for a in found], max_tracks=module.instances.max_animals)
    metrics = FullFrameMetrics()
    for i, (animals, ids) in enumerate(zip(found, tracks.ids, strict=True)):
        labels = frames.labels(i)
        metrics.add(animals.coords, animals.scores, labels.keypoints, ids, labels.tracks)
    result = {**metrics.compute(), "tracks": int(tracks.num_tracks), "tracking": tracks.summary()}
    shown = {k: v for k, v in result.items() if isinstance(v, float) and np.isfinite(v)}
    log.info("full frames (test): " + ", ".join(f"{k} {v:.3g}" for k, v in shown.items()))
    return result
