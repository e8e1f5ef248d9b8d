"""``python predict.py <checkpoint> <video | folder of videos | folder of images> [options]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqattn.calibration import FALLBACK_PCUTOFF
from seqattn.errors import ConfigError, DataError, UserError
from seqattn.inference.batch import load_checkpoint, ready_for_inference
from seqattn.inference.filters import FILTERS
from seqattn.inference.images import list_images, predict_folder
from seqattn.inference.video import VIDEO_SUFFIXES, list_videos
from seqattn.inference.video_predict import predict_video


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="predict.py",
        description="Predict keypoints for a video, a folder of videos, or a folder of images (any size, no labels).",
    )
    parser.add_argument("checkpoint", type=Path, help="a .ckpt written by train.py")
    parser.add_argument(
        "input", type=Path, help="a video file (.mp4 .avi .mov .mkv ...), or a folder of videos or images"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: beside the videos; <images>/predictions)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto", help="auto (GPU if available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--overlays", action="store_true", help="images: also draw predictions into <out>/overlays/")
    parser.add_argument("--labeled-video", action="store_true", help="videos: also write <stem>_labeled.mp4")
    parser.add_argument(
        "--pcutoff",
        type=float,
        default=None,
        help="likelihood below which a point is hidden/untrusted (default: the checkpoint's, chosen on validation)",
    )
    parser.add_argument("--skeleton", default="", help="labelled video: edges as a-b,c-d (keypoint names)")
    parser.add_argument("--filter", choices=FILTERS, default=None, help="videos: also write *_filtered.h5/.csv")
    parser.add_argument("--filter-window", type=int, default=5, help="filter window, frames (odd)")
    return parser.parse_args(argv)


def _skeleton(text: str) -> list[tuple[str, str]]:
    edges = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        a, sep, b = part.partition("-")
        if not sep or not a or not b:
            raise ConfigError(f"--skeleton: expected edges like snout-neck,neck-tailbase, got {part!r}")
        edges.append((a, b))
    return edges


def run(args: argparse.Namespace) -> dict[str, Path]:
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.pcutoff is not None and not 0 <= args.pcutoff <= 1:
        raise ConfigError(f"--pcutoff must be in [0, 1], got {args.pcutoff}")
    source: Path = args.input
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        videos = [source]
    elif source.is_file():
        videos = [source]  # an unknown suffix: FFmpeg decides, and says so if it is no video
    elif source.is_dir():
        videos = list_videos(source)
        if not videos:
            list_images(source)  # a one-line error if the folder has neither
            return predict_folder(
                args.checkpoint, source, args.out or source / "predictions", args.batch_size, args.overlays, args.device
            )
    else:
        raise DataError(f"input: no video or folder at {source}")
    module = ready_for_inference(load_checkpoint(args.checkpoint, key="checkpoint"), args.device)
    pcutoff = args.pcutoff
    if pcutoff is None:  # chosen on the validation predictions when the checkpoint was saved
        pcutoff = float((module.calibration or {}).get("pcutoff", FALLBACK_PCUTOFF))
    skeleton = _skeleton(args.skeleton)
    unknown = sorted({n for edge in skeleton for n in edge} - set(module.keypoint_names))
    if unknown:
        raise ConfigError(f"--skeleton names unknown keypoints {unknown}; the model's are {module.keypoint_names}")
    paths: dict[str, Path] = {}
    for video in videos:
        written = predict_video(
            module,
            args.checkpoint,
            video,
            args.out or video.parent,
            batch_size=args.batch_size,
            labeled_video=args.labeled_video,
            pcutoff=pcutoff,
            skeleton=skeleton,
            filter_kind=args.filter,
            filter_window=args.filter_window,
        )
        paths.update({f"{video.stem}:{k}": v for k, v in written.items()} if len(videos) > 1 else written)
        print(f"{video}: " + ", ".join(str(p) for p in written.values()))
    return paths


def main(argv: list[str] | None = None) -> dict[str, Path]:
    """CLI entry: one-line ``error: ...`` and exit status 2 for problems the user can fix."""
    args = parse_args(argv)
    try:
        paths = run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    if "csv" in paths and "json" in paths and len(paths) == 2:
        print(f"predictions: {paths['csv']} (DeepLabCut CSV), {paths['json']}")
    return paths
