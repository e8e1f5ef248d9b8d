"""``python predict.py <checkpoint> <video | folder of videos | folder of images> [options]``.

Every option is checked before the checkpoint is loaded or a frame is read: a bad one is one line
``error: ...`` and exit status 2. Ctrl+C ends the run with ``interrupted: ...`` and exit status 130,
SIGTERM with exit status 143; either way the unfinished video's (or image folder's) files are not
written and no temporary file is left (the videos finished before are kept).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seqattn.allocator import keep_large_buffers
from seqattn.errors import ConfigError, DataError, UserError
from seqattn.evaluation.calibration import FALLBACK_PCUTOFF
from seqattn.inference.batch import load_checkpoint, ready_for_inference
from seqattn.inference.exported import OnnxModel
from seqattn.inference.folder_animals import predict_folder_animals
from seqattn.inference.image_folder import list_images, predict_folder
from seqattn.inference.options import check_options, check_out_folder, parse_args, parse_skeleton
from seqattn.inference.video_animals import predict_video_animals
from seqattn.inference.video_predict import predict_video
from seqattn.io.files import printable
from seqattn.io.video import list_videos
from seqattn.module import KeypointModule


class Terminated(BaseException):  # noqa: N818 - named like KeyboardInterrupt, which it mirrors
    """SIGTERM, raised in the main thread so that ``finally`` blocks remove unfinished files."""


def check_animals(module: KeypointModule | OnnxModel, args: argparse.Namespace) -> None:
    """``--animals`` is for a model of several animals, ``--filter`` for one of one animal."""
    several = getattr(module, "instances", None) is not None
    if args.animals is not None and not several:
        raise ConfigError(f"--animals: {printable(args.checkpoint)} was trained on one animal per frame")
    if several and args.filter:
        raise ConfigError("--filter smooths one animal's track: not for a model of several animals")


def load_model(args: argparse.Namespace) -> KeypointModule | OnnxModel:
    """The checkpoint on its device, or the exported ONNX file (``--engine onnx``)."""
    keep_large_buffers(one_heap=True)
    if args.engine == "onnx":
        return OnnxModel(args.checkpoint)
    module = load_checkpoint(args.checkpoint, key="checkpoint")
    module = ready_for_inference(module, args.device, not args.one_pass, args.precision)
    print(f"precision: {module.precision} ({module.precision_reason})")
    return module


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
            check_animals(module, args)
            if getattr(module, "instances", None) is not None:  # several animals an image
                return predict_folder_animals(module, args.checkpoint, source, out, args.batch_size, args.animals)
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
    skeleton = parse_skeleton(args.skeleton)
    unknown = sorted({n for edge in skeleton for n in edge} - set(module.keypoint_names))
    if unknown:
        raise ConfigError(f"--skeleton names unknown keypoints {unknown}; the model's are {module.keypoint_names}")
    check_animals(module, args)
    paths: dict[str, Path] = {}
    for video in videos:
        out, formats = args.out or video.parent, tuple(dict.fromkeys(args.format))
        if getattr(module, "instances", None) is not None:  # several animals: detect, read, track
            written = predict_video_animals(
                module, args.checkpoint, video, out, args.batch_size, args.animals, args.labeled_video,
                pcutoff, skeleton, formats,
            )  # fmt: skip
        else:
            written = predict_video(
                module, args.checkpoint, video, out, args.batch_size, args.labeled_video, pcutoff, skeleton,
                args.filter, args.filter_window, formats,
            )  # fmt: skip
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
