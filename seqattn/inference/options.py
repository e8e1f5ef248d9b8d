"""predict.py's options, and every check on them that runs before the checkpoint is loaded or a
frame is read (a bad one is one line ``error: ...``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from seqattn.errors import ConfigError
from seqattn.inference.filters import FILTERS
from seqattn.inference.precision import PRECISIONS
from seqattn.inference.sleap_files import FORMATS
from seqattn.io.files import nearest_existing, printable


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
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto: bf16 where the chip computes it natively (AVX-512 BF16, AMX, Arm BF16, CUDA), else fp32",
    )
    parser.add_argument(
        "--animals",
        type=int,
        default=None,
        help="a model of several animals: at most N in a frame and N identities along a video"
        " (default: the most its labels held)",
    )
    return parser.parse_args(argv)


def parse_skeleton(text: str) -> list[tuple[str, str]]:
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
    if args.animals is not None and args.animals < 1:
        raise ConfigError(f"--animals must be >= 1, got {args.animals}")
    if args.pcutoff is not None and not 0 <= args.pcutoff <= 1:  # NaN fails both comparisons
        raise ConfigError(f"--pcutoff must be in [0, 1], got {args.pcutoff}")
    if args.filter and "dlc" not in args.format:
        raise ConfigError("--filter writes *_filtered.h5/.csv: it needs --format dlc among the formats")
    if args.filter and (args.filter_window < 3 or args.filter_window % 2 == 0):
        raise ConfigError(f"--filter-window must be an odd number of frames >= 3, got {args.filter_window}")
    check_device(args.device)
    if args.engine == "onnx" and args.device not in ("auto", "cpu"):
        raise ConfigError(f"--engine onnx runs on the CPU; --device {args.device} is for the torch engine")
    if args.engine == "onnx" and args.precision == "bf16":
        raise ConfigError("--precision bf16 is for the torch engine: the ONNX engine runs float32")
    if args.engine == "onnx" and args.one_pass:
        raise ConfigError("--one-pass is for the torch engine: an exported file passes as its checkpoint did")
    if args.out is not None:
        check_out_folder(args.out)
    parse_skeleton(args.skeleton)
