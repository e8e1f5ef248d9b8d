"""Checkpoint loading and prediction on plain images (any size, no labels), in original pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seqattn.checkpoint import module_from_checkpoint
from seqattn.data.codec import images_to_batch
from seqattn.evaluation.calibration import calibrate
from seqattn.inference.precision import choose_precision, inference_precision
from seqattn.models.layers import fold_batch_norms
from seqattn.module import KeypointModule

# A model without a confidence output writes this likelihood, so DeepLabCut's pcutoff filters keep
# every point (NaN would hide them all).
NO_CONFIDENCE_LIKELIHOOD = 1.0


def load_checkpoint(path: str | Path, key: str = "ckpt_path") -> KeypointModule:
    """Rebuild the module from a .ckpt alone, on the CPU, read without running anything it carries
    (seqattn.checkpoint); ``key`` names the setting in the one-line error."""
    return module_from_checkpoint(path, key)


def ready_for_inference(
    module: KeypointModule, device: str = "auto", flip: bool = True, precision: str = "fp32", fold: bool = True
) -> KeypointModule:
    """On ``device`` (auto: a GPU if there is one), in eval mode, convolutions in channels-last
    memory format (faster on a CPU; same results up to float rounding). ``flip=False``: one pass
    per image, even for a model whose predictions average the mirrored image's (half the model's
    cost, a little less accurate). ``precision``: fp32, bf16 or auto (seqattn.inference.precision);
    the choice and its reason are kept as the module's ``precision`` and ``precision_reason``.
    ``fold``: batch norms folded into the convolutions before them
    (seqattn.models.layers.fold_batch_norms; measured in docs/benchmarks.md#using-the-chip); False
    keeps the module trainable, as a test run after training needs it."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    module.precision, module.precision_reason = choose_precision(precision, torch.device(device))
    module = module.to(device).eval()
    if fold:  # the module is not trained again: batch norms folded into their convolutions
        for net in (module.model, module.detector):
            if net is not None:
                fold_batch_norms(net)
    module.model.to(memory_format=torch.channels_last)
    module.memory_format = torch.channels_last
    if not flip:
        module.flip_pairs = None
    return module


@torch.inference_mode()
def predict_images(module: KeypointModule, images: list[np.ndarray]) -> dict[str, np.ndarray | None]:
    """Letterbox, run and decode a batch of original images, each (H_i, W_i, 3) uint8 RGB.

    Returns ``coords`` (B, K, 2) float64 in each image's original pixels (pixel centre at integer)
    and ``confidence`` (B, K) if the model gives one, else None.
    """
    codec = module.codec
    boxed = [codec.letterbox(image) for image in images]
    batch = images_to_batch([img for img, _ in boxed]).to(module.device)  # (B, 3, S, S)
    frames = torch.from_numpy(np.stack([fr.as_array() for _, fr in boxed]))  # (B, 6) float64
    with inference_precision(module):
        out = module.predict(batch)
    # decoded on the CPU in float64: exact for large images, and some devices (MPS) lack float64
    coords = codec.decode(out["coords"].cpu().double(), frames)  # (B, K, 2) original pixels
    confidence = out.get("confidence")
    return {
        "coords": coords.numpy(),
        "confidence": None if confidence is None else confidence.float().cpu().numpy(),
    }


def likelihood_of(confidence: np.ndarray | None, shape: tuple[int, ...], calibration: dict | None) -> np.ndarray:
    """The model's confidence as DeepLabCut's likelihood, scaled by the checkpoint's ``calibration``
    (seqattn.evaluation.calibration: P(error <= 5 px) on validation); 1.0 for a model without a confidence."""
    if confidence is None:
        return np.full(shape, NO_CONFIDENCE_LIKELIHOOD)
    return np.clip(calibrate(confidence.astype(np.float64), calibration), 0.0, 1.0)


def scorer_name(checkpoint: Path) -> str:
    """The DeepLabCut 'scorer' of a checkpoint's predictions."""
    return f"seqattn_{Path(checkpoint).stem}"
