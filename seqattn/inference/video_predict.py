"""Predict every frame of a video: DeepLabCut tables (.h5, .csv), a JSON record, optionally a
labelled video and temporally filtered tables.

All of a video's files are written under temporary names and renamed together once the last one
is complete: an error, Ctrl+C or SIGTERM midway leaves none of them (and no temporary file).

Memory is bounded whatever ``--batch-size`` says: a batch holds at most ``MAX_BATCH`` frames and
about ``BATCH_BYTES`` of frames (letterboxed input, and the full frames when a labelled video is
drawn); a larger request is capped, with a warning, and the JSON records the ``batch_size`` used.
At most two batches of frames wait in the read-ahead queue.

A video that ends before the frames its container announces (seqattn.io.video_info) gets NaN
rows for the missing frames at the end, a warning naming the video and both counts, and
``"ended_early": true`` in the JSON beside ``frames_expected`` and ``frames_decoded``; a video of
which no frame decodes is a one-line error and writes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from seqattn.data.codec import images_to_batch
from seqattn.errors import DataError
from seqattn.inference.batch import likelihood_of, scorer_name
from seqattn.inference.filters import filter_track
from seqattn.inference.jitter import temporal_jitter
from seqattn.inference.labeled_video import LabeledVideoWriter
from seqattn.inference.precision import inference_precision
from seqattn.inference.sleap_files import prediction_labels, write_nwb, write_slp
from seqattn.inference.tables import OutputSet, output_set, pose_table, printable, write_pose_files
from seqattn.io.video import decode_frames, read_ahead
from seqattn.io.video_info import DecodeReport, VideoInfo, probe, shortfall
from seqattn.module import KeypointModule

log = logging.getLogger(__name__)

MAX_BATCH = 1024
BATCH_BYTES = 256 * 2**20


def capped_batch_size(requested: int, side: int, full_frame_bytes: int = 0) -> int:
    """``requested``, or fewer so that a batch holds at most MAX_BATCH frames and BATCH_BYTES of
    frames: each letterboxed (float32 tensor and uint8 image, a ``side`` square: the model's
    letterbox) plus ``full_frame_bytes`` kept beside it (frames to draw on, original images).
    Warns when it caps."""
    per_frame = 3 * side * side * (4 + 1) + full_frame_bytes
    fits = max(1, min(MAX_BATCH, BATCH_BYTES // per_frame))
    if requested <= fits:
        return requested
    log.warning(
        f"--batch-size {requested} capped to {fits}: a batch holds at most {MAX_BATCH} frames and "
        f"{BATCH_BYTES // 2**20} MiB of frames ({per_frame} bytes a frame, letterbox {side} px)"
    )
    return fits


@torch.inference_mode()
def predict_video(
    module: KeypointModule,
    checkpoint: Path,
    video: Path,
    out_dir: Path,
    batch_size: int = 32,
    labeled_video: bool = False,
    pcutoff: float = 0.6,
    skeleton: list[tuple[str, str]] | None = None,
    filter_kind: str | None = None,
    filter_window: int = 5,
    formats: tuple[str, ...] = ("dlc",),
) -> dict[str, Path]:
    """Predict all frames of ``video`` into ``out_dir``: ``<stem>.json`` and, per ``formats``,
    ``<stem>.h5`` + ``<stem>.csv`` (dlc), ``<stem>.predictions.slp`` (slp), ``<stem>.nwb`` (nwb)
    (and ``<stem>_labeled.mp4``, ``<stem>_filtered.h5/.csv``). Returns the written paths."""
    info = probe(video)
    names = list(module.keypoint_names)
    batch_size = capped_batch_size(batch_size, module.codec.side, 3 * info.width * info.height if labeled_video else 0)
    with output_set() as files:
        writer = None
        if labeled_video:
            target = out_dir / f"{video.stem}_labeled.mp4"
            writer = LabeledVideoWriter(files.reserve(target), info, names, pcutoff, skeleton, target=target)
        try:
            report, xy, lik, times, seconds = _predict_frames(module, video, info, batch_size, writer)
            if writer is not None:
                writer.close()
        finally:
            if writer is not None:
                writer.abort()  # no-op once closed: a half-written video is removed
        missing = _missing_frames(video, info, report)
        xy = np.concatenate([xy, np.full((missing, len(names), 2), np.nan)])  # (N, K, 2)
        lik = np.concatenate([lik, np.full((missing, len(names)), np.nan)])  # (N, K)
        times = times + [None] * missing
        paths = {}
        if "dlc" in formats:
            paths = _write_tables(
                files, module, checkpoint, out_dir / video.stem, xy, lik, pcutoff, filter_kind, filter_window
            )
        if "slp" in formats or "nwb" in formats:
            labels = prediction_labels(video, names, xy, lik, skeleton or [])
            if "slp" in formats:
                paths["slp"] = files.write(out_dir / f"{video.stem}.predictions.slp", lambda p: write_slp(labels, p))
            if "nwb" in formats:
                paths["nwb"] = files.write(
                    out_dir / f"{video.stem}.nwb", lambda p: write_nwb(labels, p, times, info.fps)
                )
        if writer is not None:
            paths["labeled_video"] = target
        record = {
            "video": asdict(info),
            "frames": int(len(xy)),
            "frames_expected": info.frames_expected,
            "frames_decoded": report.decoded,
            "frames_failed": report.failed,
            "frames_missing_at_end": missing,
            "ended_early": report.stopped is not None or shortfall(info, report) > 0,
            "frame_times_s": times,
            "checkpoint": printable(checkpoint),
            "checkpoint_epoch": module.checkpoint_epoch,
            "engine": getattr(module, "engine", "torch"),
            "input_size": int(module.hparams.input_size),
            "keypoint_names": names,
            "pcutoff": pcutoff,
            "filter": {"kind": filter_kind, "window": filter_window} if filter_kind else None,
            "batch_size": batch_size,
            "seconds": seconds,
            "frames_per_s": report.frames / seconds if seconds > 0 else None,
            "units": "original-video pixels; pixel centres at integer coordinates (as DeepLabCut)",
            "jitter": temporal_jitter(xy, names),
        }
        paths["json"] = files.write(
            out_dir / f"{video.stem}.json", lambda p: p.write_text(json.dumps(record, indent=2) + "\n")
        )
    return paths


def _predict_frames(
    module: KeypointModule, video: Path, info: VideoInfo, batch_size: int, writer: LabeledVideoWriter | None
) -> tuple[DecodeReport, np.ndarray, np.ndarray, list[float | None], float]:
    """Decode and predict every frame: (report, coords (N, K, 2), likelihood (N, K), times, seconds);
    a DataError if no frame decodes."""
    codec, names, device = module.codec, list(module.keypoint_names), module.device

    def prepare(f):  # in the decode thread: the letterbox (uint8) while the model runs
        if f.small is None:
            return f, None, None
        fr = codec.frame(*f.size)  # per frame: a stream may change its size midway
        return f, codec.pad(f.small, fr), fr.as_array()

    report = DecodeReport()
    coords, confidence, times = [], [], []

    def run(batch: list) -> None:
        mask = np.array([t is not None for _, t, _ in batch])  # frames that decoded
        xy = np.full((len(batch), len(names), 2), np.nan)  # (B, K, 2); NaN rows for the others
        conf = np.full((len(batch), len(names)), np.nan)
        if mask.any():
            with inference_precision(module):
                out = module.predict(images_to_batch([t for _, t, _ in batch if t is not None]).to(device))
            frames = torch.from_numpy(np.stack([fr for _, _, fr in batch if fr is not None]))  # (b, 6) float64
            decoded = codec.decode(out["coords"].cpu().double(), frames).numpy()  # original pixels
            c = out.get("confidence")
            xy[mask] = decoded
            conf[mask] = likelihood_of(
                None if c is None else c.float().cpu().numpy(), decoded.shape[:2], module.calibration
            )
        coords.append(xy)
        confidence.append(conf)
        times.extend(f.time_s for f, _, _ in batch)
        if writer is not None:
            for (f, _, _), points, lik in zip(batch, xy, conf, strict=True):
                writer.write(f.image, points, lik)

    started = time.perf_counter()
    frames = decode_frames(video, report, codec.fitted_size, keep_full=writer is not None)  # full frames to draw on
    run_in_batches(map(prepare, frames), batch_size, run, video, info, report)
    xy = np.concatenate(coords) if coords else np.zeros((0, len(names), 2))
    lik = np.concatenate(confidence) if confidence else np.zeros((0, len(names)))
    return report, xy, lik, times, time.perf_counter() - started


def run_in_batches(
    items: Iterable, batch_size: int, run: Callable[[list], None], video: Path, info: VideoInfo, report: DecodeReport
) -> None:
    """Pass ``items`` (a video's prepared frames, decoded ahead in a thread: at most two batches
    wait) to ``run`` in batches of ``batch_size``, with a progress bar; a DataError naming the
    video if no frame decoded."""
    batch: list = []
    with tqdm(total=info.frames_expected or None, unit="frame", desc=printable(video.name), dynamic_ncols=True) as bar:
        for item in read_ahead(items, queue_size=2 * batch_size):
            batch.append(item)
            if len(batch) == batch_size:
                run(batch)
                bar.update(len(batch))
                batch = []
        if batch:
            run(batch)
            bar.update(len(batch))
    if report.decoded == 0:
        raise DataError(f"{printable(video)}: no frame could be decoded ({report.frames} read)")


def _missing_frames(video: Path, info: VideoInfo, report: DecodeReport) -> int:
    """How many NaN rows to add at the end: the frames the container counts but the file lacks
    (0 when the total is only estimated from the duration); warns when the video ends early."""
    short = shortfall(info, report)
    if short:
        counted = "its container announces" if info.frames_counted else "its duration x frame rate suggests"
        expected = info.frames_expected if info.frames_counted else report.frames + short
        rows = "NaN rows up to that count" if info.frames_counted else "rows end at the last frame read"
        log.warning(
            f"{printable(video)}: the video ends early: {report.frames} frames read ({report.decoded} decoded) "
            f"of the {expected} {counted}; {rows}"
        )
    elif report.stopped is not None:
        log.warning(f"{printable(video)}: reading stopped after {report.frames} frames ({report.stopped})")
    return short if info.frames_counted else 0


def _write_tables(
    files: OutputSet,
    module: KeypointModule,
    checkpoint: Path,
    stem: Path,
    xy: np.ndarray,
    lik: np.ndarray,
    pcutoff: float,
    filter_kind: str | None,
    filter_window: int,
) -> dict[str, Path]:
    """``<stem>.h5/.csv`` (and ``<stem>_filtered.h5/.csv``) into ``files``."""
    scorer, names = scorer_name(checkpoint), list(module.keypoint_names)
    paths = write_pose_files(stem, pose_table(scorer, names, xy, lik), files)
    if filter_kind:
        smooth = filter_track(xy, lik, filter_kind, filter_window, pcutoff)
        filtered = write_pose_files(
            stem.with_name(f"{stem.name}_filtered"), pose_table(scorer, names, smooth, lik), files
        )
        paths.update({f"filtered_{k}": v for k, v in filtered.items()})
    return paths
