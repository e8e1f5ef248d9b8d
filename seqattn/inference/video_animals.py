"""Predict every frame of a video of several animals: find each animal, read its keypoints, keep
its identity along the video, and write the tracked poses (DeepLabCut multi-animal tables, SLEAP
``.slp`` with tracks, NWB, a labelled video coloured by identity) and a JSON record.

The decoder scales every frame to the detector's letterbox in the same pass as its colour
conversion (seqattn.io.video); the full frame stays for the crops around each animal. Identities
come from seqattn.inference.tracking once every frame is read; the labelled video is drawn in a
second pass over the recording. All files appear together or not at all (tables.OutputSet).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from seqattn.data.codec import KeypointCodec, images_to_batch
from seqattn.inference.animals import TrackedPoses, write_tracked_outputs, write_tracked_video
from seqattn.inference.batch import scorer_name
from seqattn.inference.full_frame import Animals, detect_letterboxed, max_animals_of, read_animals
from seqattn.inference.tables import output_set, printable
from seqattn.inference.tracking import Tracks, track
from seqattn.inference.video_predict import run_in_batches
from seqattn.io.video import decode_frames
from seqattn.io.video_info import DecodeReport, probe
from seqattn.module import KeypointModule

log = logging.getLogger(__name__)


def tracked_poses(animals: list[Animals], max_tracks: int | None, names: list[str]) -> tuple[TrackedPoses, Tracks]:
    """Identities along the frames (seqattn.inference.tracking) laid out as TrackedPoses, and the tracks."""
    tracks = track([(a.coords, a.scores) for a in animals], max_tracks=max_tracks)
    f, n, k = len(animals), max(int(tracks.num_tracks), 1), len(names)
    coords = np.full((f, n, k, 2), np.nan)
    likelihood = np.full((f, n, k), np.nan, dtype=np.float32)
    score = np.full((f, n), np.nan, dtype=np.float32)
    for i, (a, ids) in enumerate(zip(animals, tracks.ids, strict=True)):
        for j, t in enumerate(ids):
            if t >= 0:
                coords[i, t], likelihood[i, t], score[i, t] = a.coords[j], a.likelihood[j], a.scores[j]
    poses = TrackedPoses(coords, likelihood, score, [f"track_{t}" for t in range(n)], list(names))
    return poses, tracks


@torch.inference_mode()
def predict_video_animals(
    module: KeypointModule,
    checkpoint: Path,
    video: Path,
    out_dir: Path,
    batch_size: int = 16,
    animals: int | None = None,
    labeled_video: bool = False,
    pcutoff: float = 0.6,
    skeleton: list[tuple[str, str]] | None = None,
    formats: tuple[str, ...] = ("dlc",),
) -> dict[str, Path]:
    """Every animal in every frame of ``video`` into ``out_dir``: ``<stem>.json`` and, per ``formats``,
    ``<stem>.h5/.csv`` (dlc), ``<stem>.predictions.slp`` (slp), ``<stem>.nwb`` (nwb), and
    ``<stem>_labeled.mp4``. ``animals``: at most this many in a frame and as many identities
    (default: the most the labels held)."""
    info = probe(video)
    names = list(module.keypoint_names)
    most = max_animals_of(module, animals)
    codec = KeypointCodec(module.instances.input_size)
    report, found, times = DecodeReport(), [], []

    def prepare(f):  # in the decode thread: the detector's letterbox
        if f.small is None:
            return f, None, None
        fr = codec.frame(*f.size)
        return f, codec.pad(f.small, fr), fr.as_array()

    def run(batch: list) -> None:
        ok = [item for item in batch if item[1] is not None]
        result = iter([])
        if ok:
            anchors = detect_letterboxed(
                module, images_to_batch([t for _, t, _ in ok]), np.stack([r for _, _, r in ok]), most
            )
            result = iter(read_animals(module, [f.image for f, _, _ in ok], anchors))
        for f, t, _ in batch:
            found.append(next(result) if t is not None else Animals.none(len(names)))
            times.append(f.time_s)

    started = time.perf_counter()
    run_in_batches(map(prepare, decode_frames(video, report, codec.fitted_size)), batch_size, run, video, info, report)
    seconds = time.perf_counter() - started
    poses, tracks = tracked_poses(found, animals, names)
    log.info(f"{printable(video.name)}: {tracks.summary()}")
    with output_set() as files:
        stem = out_dir / video.stem
        paths = write_tracked_outputs(
            stem, poses, scorer_name(checkpoint), video, formats, skeleton or [], times, info.fps, files
        )
        if labeled_video:
            target = out_dir / f"{video.stem}_labeled.mp4"
            frames = (f.image for f in decode_frames(video, DecodeReport()))
            paths["labeled_video"] = write_tracked_video(target, frames, info, poses, pcutoff, skeleton, files)
        counts = [len(a.scores) for a in found]
        record = {
            "video": asdict(info),
            "frames": len(found),
            "frames_decoded": report.decoded,
            "frames_failed": report.failed,
            "checkpoint": printable(checkpoint),
            "checkpoint_epoch": module.checkpoint_epoch,
            "keypoint_names": names,
            "animals": {"at_most": most, "per_frame_mean": float(np.mean(counts)), "frames_without": counts.count(0)},
            "tracks": {"count": int(tracks.num_tracks), "summary": tracks.summary()},
            "track_names": poses.track_names,
            "detector_input_size": module.instances.input_size,
            "crop_px": module.instances.crop_px,
            "input_size": int(module.hparams.input_size),
            "batch_size": batch_size,
            "seconds": seconds,
            "frames_per_s": report.frames / seconds if seconds > 0 else None,
            "units": "original-video pixels; pixel centres at integer coordinates (as DeepLabCut)",
        }
        paths["json"] = files.write(
            out_dir / f"{video.stem}.json", lambda p: p.write_text(json.dumps(record, indent=2) + "\n")
        )
    return paths
