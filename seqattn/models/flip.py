"""Test-time flip: a model's prediction averaged with its prediction on the mirrored image.

A model trained with left/right flips has seen both views of every pose; averaging the two
predictions (the mirrored one mapped back, left and right keypoints swapped) cancels part of each
one's error. It doubles the cost of a prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from seqattn.data.codec import KeypointCodec


def flip_averaged(
    model: Callable[..., dict[str, torch.Tensor]],
    images: torch.Tensor,
    pairs: Sequence[Sequence[int]],
    out: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """images (B, 3, S, S) letterboxed -> {"coords": (B, K, 2) normalized, "confidence": (B, K) if
    the model gives one}: the means of ``model(images)`` (or ``out``, already computed) and of the
    prediction on ``images.flip(-1)``, ``model(images, mirrored=True)``, mirrored back with the
    ``pairs`` swapped."""
    out = model(images) if out is None else out
    mirrored = model(images, mirrored=True)  # as model(images.flip(-1)), without making the mirrored images
    order = KeypointCodec.mirror_order(out["coords"].shape[1], pairs)
    coords = (out["coords"] + KeypointCodec.mirror(mirrored["coords"][:, order])) / 2
    if out.get("confidence") is None:
        return {"coords": coords}
    return {"coords": coords, "confidence": (out["confidence"] + mirrored["confidence"][:, order]) / 2}
