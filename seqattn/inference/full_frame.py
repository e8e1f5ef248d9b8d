"""Whole frames with several animals: find each one, read its keypoints in a crop around it.

The detector (seqattn.models.detector) sees the frame letterboxed at its own size and gives each
animal's anchor; the pose model then predicts that animal in the ``crop_px`` square around its
anchor (seqattn.data.instances, the rule training used), and the points go back to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqattn.data.codec import KeypointCodec, images_to_batch
from seqattn.data.instances import crop_box, cut
from seqattn.inference.batch import likelihood_of, predict_images
from seqattn.inference.precision import inference_precision
from seqattn.models.detector import find_peaks
from seqattn.module import KeypointModule


@dataclass
class Animals:
    """The animals found in one frame, best instance score first."""

    coords: np.ndarray  # (n, K, 2) original pixels (pixel centres at integers)
    likelihood: np.ndarray  # (n, K) calibrated likelihood (seqattn.inference.batch.likelihood_of)
    scores: np.ndarray  # (n,) the detector's score of each animal, in [0, 1]

    @classmethod
    def none(cls, num_keypoints: int) -> Animals:
        return cls(np.zeros((0, num_keypoints, 2)), np.zeros((0, num_keypoints), np.float32), np.zeros(0, np.float32))


def max_animals_of(module: KeypointModule, animals: int | None) -> int:
    """How many animals a frame may hold: ``animals`` (predict.py --animals) or the labels' most."""
    return int(animals) if animals else module.instances.max_animals


@torch.inference_mode()
def detect_letterboxed(
    module: KeypointModule, batch: torch.Tensor, frames: np.ndarray, max_animals: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Anchors (n, 2) in original pixels and their scores (n,), at most ``max_animals`` per frame,
    of frames letterboxed at the detector's size: ``batch`` (B, 3, D, D) normalized, ``frames``
    (B, 6) their letterboxes (seqattn.data.codec.Frame.as_array)."""
    codec = KeypointCodec(module.instances.input_size)
    with inference_precision(module):
        logits = module.detector(batch.to(module.device).contiguous(memory_format=module.memory_format))
    centres, scores = find_peaks(logits, max_animals, module.instances.min_score)  # (B, N, 2), (B, N)
    anchors = codec.decode(centres.cpu().double(), torch.from_numpy(frames)).numpy()  # (B, N, 2) original px
    found = np.isfinite(anchors).all(-1)  # (B, N)
    scores = scores.float().cpu().numpy()
    return [(anchors[i][found[i]], scores[i][found[i]]) for i in range(len(batch))]


def detect(module: KeypointModule, images: list[np.ndarray], max_animals: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``detect_letterboxed`` of whole frames (H, W, 3) uint8."""
    codec = KeypointCodec(module.instances.input_size)
    boxed = [codec.letterbox(image) for image in images]
    batch = images_to_batch([img for img, _ in boxed])
    return detect_letterboxed(module, batch, np.stack([fr.as_array() for _, fr in boxed]), max_animals)


def read_animals(
    module: KeypointModule, images: list[np.ndarray], found: list[tuple[np.ndarray, np.ndarray]]
) -> list[Animals]:
    """Each found animal's keypoints, read in the crop around its anchor, in frame pixels."""
    k = len(module.keypoint_names)
    side = module.instances.crop_px
    crops, origins, owner = [], [], []
    for i, (anchors, _) in enumerate(found):
        for anchor in anchors:
            box = crop_box(anchor, side)
            crops.append(cut(images[i], box))
            origins.append(box[:2])
            owner.append(i)
    if not crops:
        return [Animals.none(k) for _ in images]
    out = predict_images(module, crops)
    coords = out["coords"] + np.asarray(origins, dtype=np.float64)[:, None, :]  # (M, K, 2) frame pixels
    likelihood = likelihood_of(out["confidence"], coords.shape[:2], module.calibration).astype(np.float32)
    owner_of = np.asarray(owner)
    return [
        Animals(coords[owner_of == i], likelihood[owner_of == i], scores.astype(np.float32))
        for i, (_, scores) in enumerate(found)
    ]


def predict_animals(module: KeypointModule, images: list[np.ndarray], animals: int | None = None) -> list[Animals]:
    """Every animal of each whole frame (H, W, 3) uint8: detect, crop, predict, back to the frame."""
    return read_animals(module, images, detect(module, images, max_animals_of(module, animals)))
