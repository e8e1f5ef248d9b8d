"""Predict every frame of a video: DeepLabCut tables (.h5, .csv), a JSON record, optionally a
labelled video and temporally filtered tables."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from seqattn.data.datamodule import image_to_tensor
from seqattn.inference.batch import likelihood_of, scorer_name
from seqattn.inference.filters import filter_track
from seqattn.inference.labeled_video import LabeledVideoWriter
from seqattn.inference.tables import pose_table, write_atomically, write_pose_files
from seqattn.inference.video import DecodeReport, decode_frames, probe, read_ahead
from seqattn.module import KeypointModule


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
) -> dict[str, Path]:
    """Predict all frames of ``video`` into ``out_dir``: ``<stem>.h5``, ``<stem>.csv``, ``<stem>.json``
    (and ``<stem>_labeled.mp4``, ``<stem>_filtered.h5/.csv``). Returns the written paths."""
    info = probe(video)
    codec, names, device = module.codec, list(module.keypoint_names), module.device

    def small_size(width: int, height: int) -> tuple[int, int]:  # what the letterbox holds of a frame
        return codec.resized_size(codec.frame(width, height))

    def prepare(f):  # in the decode thread: letterbox and convert while the model runs
        if f.small is None:
            return f, None, None
        fr = codec.frame(*f.size)  # per frame: a stream may change its size midway
        return f, image_to_tensor(codec.pad(f.small, fr)), fr.as_array()

    report = DecodeReport()
    coords, confidence, times = [], [], []
    writer = (
        LabeledVideoWriter(out_dir / f"{video.stem}_labeled.mp4", info, names, pcutoff, skeleton)
        if labeled_video
        else None
    )
    started = time.perf_counter()
    batch: list = []

    def run(batch: list) -> None:
        mask = np.array([t is not None for _, t, _ in batch])  # frames that decoded
        xy = np.full((len(batch), len(names), 2), np.nan)  # (B, K, 2); NaN rows for the others
        conf = np.full((len(batch), len(names)), np.nan)
        if mask.any():
            out = module(torch.stack([t for _, t, _ in batch if t is not None]).to(device))
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

    try:
        total = info.frames_expected or None
        with tqdm(total=total, unit="frame", desc=video.name, dynamic_ncols=True) as bar:
            frames = decode_frames(video, report, small_size, keep_full=writer is not None)  # full frames to draw on
            for item in read_ahead(map(prepare, frames), queue_size=2 * batch_size):
                batch.append(item)
                if len(batch) == batch_size:
                    run(batch)
                    bar.update(len(batch))
                    batch = []
            if batch:
                run(batch)
                bar.update(len(batch))
        if writer is not None:
            writer.close()  # renames the finished file into place
    finally:
        if writer is not None:
            writer.abort()  # no-op once closed: a half-written video is removed, never left behind
    seconds = time.perf_counter() - started

    xy = np.concatenate(coords) if coords else np.zeros((0, len(names), 2))  # (N, K, 2)
    lik = np.concatenate(confidence) if confidence else np.zeros((0, len(names)))  # (N, K)
    scorer = scorer_name(checkpoint)
    stem = out_dir / video.stem
    paths = write_pose_files(stem, pose_table(scorer, names, xy, lik))
    if filter_kind:
        smooth = filter_track(xy, lik, filter_kind, filter_window, pcutoff)
        filtered = write_pose_files(out_dir / f"{video.stem}_filtered", pose_table(scorer, names, smooth, lik))
        paths.update({f"filtered_{k}": v for k, v in filtered.items()})
    if writer is not None:
        paths["labeled_video"] = writer.path
    record = {
        "video": asdict(info),
        "frames": int(len(xy)),
        "frames_failed": [i for i in report.failed if i >= 0],
        "ended_early": -1 in report.failed,
        "frame_times_s": times,
        "checkpoint": str(checkpoint),
        "checkpoint_epoch": module.checkpoint_epoch,
        "input_size": int(module.hparams.input_size),
        "keypoint_names": names,
        "pcutoff": pcutoff,
        "filter": {"kind": filter_kind, "window": filter_window} if filter_kind else None,
        "seconds": seconds,
        "frames_per_s": len(xy) / seconds if seconds > 0 else None,
        "units": "original-video pixels; pixel centres at integer coordinates (as DeepLabCut)",
    }
    paths["json"] = write_atomically(
        out_dir / f"{video.stem}.json", lambda p: p.write_text(json.dumps(record, indent=2) + "\n")
    )
    return paths
