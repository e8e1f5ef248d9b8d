"""``python predict.py <checkpoint> <video | folder of videos | folder of images> [options]``.

Every option is checked before the checkpoint is loaded or a frame is read: a bad one is one line
``error: ...`` and exit status 2. Ctrl+C ends the run with ``interrupted: ...`` and exit status 130,
SIGTERM with exit status 143; either way the unfinished video's (or image folder's) files are not
written and no temporary file is left (the videos finished before are kept).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from seqattn.errors import ConfigError, DataError, UserError
from seqattn.evaluation.calibration import FALLBACK_PCUTOFF
from seqattn.inference.batch import load_checkpoint, ready_for_inference
from seqattn.inference.exported import OnnxModel
from seqattn.inference.filters import FILTERS
from seqattn.inference.image_folder import list_images, predict_folder
from seqattn.inference.sleap_files import FORMATS
from seqattn.inference.video_predict import predict_video
from seqattn.io.files import nearest_existing, printable
from seqattn.io.video import list_videos
from seqattn.module import KeypointModule


class Terminated(BaseException):  # noqa: N818 - named like KeyboardInterrupt, which it mirrors
    """SIGTERM, raised in the main thread so that ``finally`` blocks remove unfinished files."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="predict.py",
        description="Predict keypoints for a video, a folder of videos, or a folder of images (any size, no labels).",
    )
    parser.add_argument("checkpoint", type=Path, help="a .ckpt written by train.py (an .onnx with --engine onnx)")
    parser.add_argument(
        "input", type=Path, help="a video file (.mp4 .avi .mov .mkv ...), or a folder of videos or images"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: beside the videos; <images>/predictions)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="frames per batch (capped to fit memory)")
    parser.add_argument("--device", default="auto", help="auto (GPU if available), cpu, cuda, cuda:1, mps")
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
    parser.add_argument("--filter-window", type=int, default=5, help="filter window, frames (odd, >= 3)")
    parser.add_argument(
        "--one-pass",
        action="store_true",
        help="one model pass per frame, also for a checkpoint trained with flips, which by default averages"
        " each frame's prediction with the mirrored frame's (faster, a little less accurate)",
    )
    parser.add_argument(
        "--engine",
        choices=("torch", "onnx"),
        default="torch",
        help="torch: the checkpoint; onnx: a file from python -m seqattn.export, run by onnxruntime on the CPU",
    )
    parser.add_argument(
        "--format",
        nargs="+",
        choices=FORMATS,
        default=["dlc"],
        help="videos: dlc (<stem>.h5 and .csv), slp (<stem>.predictions.slp for SLEAP), nwb (<stem>.nwb); one or more",
    )
    return parser.parse_args(argv)


def _skeleton(text: str) -> list[tuple[str, str]]:
    edges = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        a, sep, b = part.partition("-")
        if not sep or not a or not b:
            raise ConfigError(f"--skeleton: expected edges like snout-neck,neck-tailbase, got {part!r}")
        edges.append((a, b))
    return edges


def check_device(device: str) -> None:
    """``auto``, ``cpu``, or a GPU (``cuda``, ``cuda:N``, ``mps``) that this machine has."""
    if device == "auto":
        return
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device: {device!r} is not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (parsed.index or 0) >= count:
            raise ConfigError(f"--device {device}: this machine has {count} CUDA GPU(s); use --device cpu or auto")
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"--device {device}: MPS is not available here; use --device cpu or auto")
    elif parsed.type != "cpu":
        raise ConfigError(f"--device: {device!r} is not supported; use auto, cpu, cuda, cuda:N or mps")


def check_out_folder(folder: Path, option: str = "--out") -> None:
    """``folder`` is, or can be created as, a folder this process may write into."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{option}: {printable(folder)} is a file, not a folder")
    existing = nearest_existing(folder)  # the nearest folder that exists decides: it is where mkdir writes
    if not existing.is_dir():
        raise ConfigError(f"{option}: cannot create {printable(folder)}: {printable(existing)} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{option}: {printable(existing)} is not writable")


def check_options(args: argparse.Namespace) -> None:
    """Everything that can be checked before loading the checkpoint or reading a frame."""
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.pcutoff is not None and not 0 <= args.pcutoff <= 1:  # NaN fails both comparisons
        raise ConfigError(f"--pcutoff must be in [0, 1], got {args.pcutoff}")
    if args.filter and "dlc" not in args.format:
        raise ConfigError("--filter writes *_filtered.h5/.csv: it needs --format dlc among the formats")
    if args.filter and (args.filter_window < 3 or args.filter_window % 2 == 0):
        raise ConfigError(f"--filter-window must be an odd number of frames >= 3, got {args.filter_window}")
    check_device(args.device)
    if args.engine == "onnx" and args.device not in ("auto", "cpu"):
        raise ConfigError(f"--engine onnx runs on the CPU; --device {args.device} is for the torch engine")
    if args.engine == "onnx" and args.one_pass:
        raise ConfigError("--one-pass is for the torch engine: an exported file passes as its checkpoint did")
    if args.out is not None:
        check_out_folder(args.out)
    _skeleton(args.skeleton)


def load_model(args: argparse.Namespace) -> KeypointModule | OnnxModel:
    """The checkpoint on its device, or the exported ONNX file (``--engine onnx``)."""
    if args.engine == "onnx":
        return OnnxModel(args.checkpoint)
    return ready_for_inference(load_checkpoint(args.checkpoint, key="checkpoint"), args.device, not args.one_pass)


def run(args: argparse.Namespace) -> dict[str, Path]:
    check_options(args)
    source: Path = args.input
    if source.is_file():
        videos = [source]  # an unknown suffix: FFmpeg decides, and says so if it is no video
    elif source.is_dir():
        videos = list_videos(source)
        if not videos:
            list_images(source)  # a one-line error if the folder has neither
            if args.format != ["dlc"]:
                raise ConfigError(f"--format {' '.join(args.format)}: for videos; image folders get a CSV and a JSON")
            out = args.out or source / "predictions"
            check_out_folder(out, "--out (default <images>/predictions)")
            module = load_model(args)
            return predict_folder(module, args.checkpoint, source, out, args.batch_size, args.overlays)
    else:
        raise DataError(f"input: no video or folder at {printable(source)}")
    if args.out is None:
        for folder in {video.parent for video in videos}:
            check_out_folder(folder, "--out (default: beside the video)")
    module = load_model(args)
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
            formats=tuple(dict.fromkeys(args.format)),
        )
        paths.update({f"{video.stem}:{k}": v for k, v in written.items()} if len(videos) > 1 else written)
        print(f"{printable(video)}: " + ", ".join(printable(p) for p in written.values()))
    return paths


@contextmanager
def stop_signals() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt and SIGTERM ``Terminated``, each once (a second signal while
    cleaning up is ignored); the previous handlers come back on exit. Outside the main thread
    (where Python cannot set handlers) the signals are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def stop(signum: int, _frame) -> None:
        for sig in before:
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt if signum == signal.SIGINT else Terminated

    try:
        for sig in before:
            signal.signal(sig, stop)
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> dict[str, Path]:
    """CLI entry: one-line ``error: ...`` and exit status 2 for problems the user can fix;
    ``interrupted: ...`` and 130 (Ctrl+C) or 143 (SIGTERM)."""
    args = parse_args(argv)
    try:
        with stop_signals():
            paths = run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: stopped by Ctrl+C; the unfinished files were removed", file=sys.stderr)
        sys.exit(130)
    except Terminated:
        print("interrupted: stopped by SIGTERM; the unfinished files were removed", file=sys.stderr)
        sys.exit(143)
    if "csv" in paths and "json" in paths and len(paths) == 2:
        print(f"predictions: {printable(paths['csv'])} (DeepLabCut CSV), {printable(paths['json'])}")
    return paths
