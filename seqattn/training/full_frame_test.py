"""The test split of labels with several animals, evaluated on whole frames as SLEAP and COCO do:
the detector and the pose model find every animal (seqattn.inference.full_frame), identities are
tracked along the split's frames in order (seqattn.inference.tracking, at most the labels' number
of animals), and predictions are matched to the labelled animals frame by frame
(seqattn.evaluation.instances: matched keypoint error, instance recall and precision, OKS mAP,
identity switches). The frames with the largest matched error are drawn into
``viz/test_full_frame_worst.png``: every animal's truth, prediction and yellow error lines."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from seqattn.data.base import FrameSplit
from seqattn.data.datamodule import KeypointDataModule
from seqattn.evaluation.instances import FullFrameMetrics, match
from seqattn.evaluation.viz import LEGEND, draw_errors, make_grid, save_png
from seqattn.inference.batch import ready_for_inference
from seqattn.inference.full_frame import Animals, predict_animals
from seqattn.inference.tracking import track
from seqattn.module import KeypointModule

log = logging.getLogger(__name__)
BATCH = 16  # frames per detector batch
WORST = 8  # frames drawn
TILE = 384  # px, the longer side of each drawn frame


def full_frame_test(
    module: KeypointModule, frames: FrameSplit, device: str = "cpu", viz: Path | None = None
) -> dict[str, float | str]:
    """Metrics of the whole pipeline on ``frames`` (the test split's whole frames), as a plain dict;
    the worst frames drawn into the folder ``viz`` unless None."""
    module = ready_for_inference(module, device, fold=False)  # the trained module stays as it is
    found: list[Animals] = []
    for start in range(0, len(frames), BATCH):
        found += predict_animals(module, [frames.image(i) for i in range(start, min(start + BATCH, len(frames)))])
    tracks = track([(a.coords, a.scores) for a in found], max_tracks=module.instances.max_animals)
    metrics = FullFrameMetrics()
    for i, (animals, ids) in enumerate(zip(found, tracks.ids, strict=True)):
        labels = frames.labels(i)
        metrics.add(animals.coords, animals.scores, labels.keypoints, ids, labels.tracks)
    result = {**metrics.compute(), "tracks": int(tracks.num_tracks), "tracking": tracks.summary()}
    if viz is not None and len(frames):
        path = save_png(viz / "test_full_frame_worst.png", worst_frames(frames, found))
        log.info(f"saved {path}")
    shown = {k: v for k, v in result.items() if isinstance(v, float) and np.isfinite(v)}
    log.info("full frames (test): " + ", ".join(f"{k} {v:.3g}" for k, v in shown.items()))
    return result


def full_frame_results(
    module: KeypointModule, datamodule: KeypointDataModule, output_dir: Path
) -> dict[str, float | str] | None:
    """After ``Trainer.test`` of a module with a detector (labels with several animals): the whole
    pipeline on the test split's whole frames (``full_frame_test``, its picture into
    ``output_dir/viz``); None for one animal a frame."""
    if module.detector is None:
        return None
    return full_frame_test(module, datamodule.source.frames()["test"], str(module.device), output_dir / "viz")


def as_metrics(full: dict[str, float | str] | None) -> dict[str, float]:
    """The numbers of ``full_frame_results`` as ``full_frame/<name>`` metrics (the run summary, the table)."""
    return {} if full is None else {f"full_frame/{k}": v for k, v in full.items() if isinstance(v, float)}


def paired(animals: Animals, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A frame's predictions and labelled animals as matched (M, K, 2) pairs, unmatched ones
    beside NaN, flattened to (M * K, 2) each: what draw_errors draws, error lines between pairs."""
    pairs = match(animals.coords, truth)
    k = truth.shape[1] if truth.ndim == 3 and len(truth) else animals.coords.shape[1]
    loose_p = [i for i in range(len(animals.coords)) if i not in {i for i, _ in pairs}]
    loose_t = [j for j in range(len(truth)) if j not in {j for _, j in pairs}]
    nan = np.full((k, 2), np.nan)
    pred = [animals.coords[i] for i, _ in pairs] + [animals.coords[i] for i in loose_p] + [nan] * len(loose_t)
    true = [truth[j] for _, j in pairs] + [nan] * len(loose_p) + [truth[j] for j in loose_t]
    return np.concatenate(pred or [nan]), np.concatenate(true or [nan])


def worst_frames(frames: FrameSplit, found: list[Animals]) -> np.ndarray:
    """The WORST frames by mean matched keypoint error, drawn in a grid."""
    drawn = [paired(a, frames.labels(i).keypoints) for i, a in enumerate(found)]
    errors = [np.nanmean(np.linalg.norm(p - t, axis=-1)) if np.isfinite(p - t).any() else np.inf for p, t in drawn]
    rows = np.argsort(errors)[::-1][:WORST]
    tiles = [draw_errors(frames.image(int(i)), *drawn[int(i)], size=TILE) for i in rows]
    titles = [f"{frames.labels(int(i)).name}  mean {errors[int(i)]:.1f} px" for i in rows]
    return make_grid(tiles, columns=4, titles=titles, header=f"whole frames, worst {len(rows)}: {LEGEND}")
