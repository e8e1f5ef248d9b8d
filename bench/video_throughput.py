"""Video prediction end to end (decode + letterbox + predict + write .h5/.csv/.json): frames/s and
peak memory, per engine (the PyTorch checkpoint as predict.py runs it; ``one-pass``: as with
``predict.py --one-pass``; or its ONNX export run by onnxruntime); and the
single-frame latency a closed-loop rig sees (one decoded frame in, original-pixel keypoints out:
letterbox, model, decoding), p50 and p99 over ``--latency-frames`` frames after 20 warm-up frames.
The PyTorch engines run in ``--precision`` (auto: bf16 where the chip has it, as predict.py).
Engine ``none`` runs the same pipeline with a stand-in that returns the letterbox centre at no
cost: what decoding, letterboxing, batching and writing cost without any model (the ceiling an
engine can approach).

Each measurement runs in its own process, so its peak resident memory is its own; ``--frames``
cuts the video to its first N frames (re-encoded losslessly beforehand, not timed) to show that
memory does not grow with the length. The ONNX file is exported beforehand (not timed).
``--results DIR`` also writes each measurement as a row of bench/report.py's schema (JSON).

    python bench/video_throughput.py <checkpoint.ckpt> ../shared/data/openfield/videos/m3v1mp4.mp4 \\
        --frames 500 0 --batch-size 32 --engine torch onnx
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cut(video: Path, frames: int, out: Path) -> Path:
    """The first ``frames`` frames of ``video`` as a lossless H.264 file (qp 0)."""
    import av

    with av.open(str(video)) as src, av.open(str(out), mode="w") as dst:
        stream_in = src.streams.video[0]
        stream = dst.add_stream("libx264", rate=stream_in.average_rate, options={"qp": "0", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = stream_in.width, stream_in.height, "yuv420p"
        for i, frame in enumerate(src.decode(stream_in)):
            if i >= frames:
                break
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out


class NoModel:
    """A checkpoint's interface (codec, names, calibration) with a model that costs nothing."""

    def __init__(self, module) -> None:
        import torch

        self.codec, self.keypoint_names, self.hparams = module.codec, module.keypoint_names, module.hparams
        self.checkpoint_epoch, self.calibration, self.device = module.checkpoint_epoch, None, torch.device("cpu")

    def __call__(self, images):
        import torch

        k = len(self.keypoint_names)
        return {
            "coords": torch.full((len(images), k, 2), 0.5, dtype=torch.float64),
            "confidence": torch.ones(len(images), k),
        }

    predict = __call__  # what the video pipeline calls (a module averages flips there)


def measure(
    checkpoint: Path, video: Path, batch_size: int, device: str, engine: str, latency_frames: int, precision: str
) -> dict:
    import inspect

    import numpy as np
    import torch

    from seqattn.inference.batch import load_checkpoint, predict_images, ready_for_inference
    from seqattn.inference.exported import OnnxModel
    from seqattn.inference.video_predict import predict_video
    from seqattn.io.video import decode_frames
    from seqattn.io.video_info import DecodeReport

    if engine == "onnx":
        module = OnnxModel(checkpoint)
    elif engine == "none":
        module = NoModel(load_checkpoint(checkpoint))
    else:  # as predict.py prepares it (one-pass: predict.py --one-pass), in --precision where the version has it
        has_precision = "precision" in inspect.signature(ready_for_inference).parameters
        kwargs = {"precision": precision} if has_precision else {}
        module = ready_for_inference(load_checkpoint(checkpoint), device, flip=engine != "one-pass", **kwargs)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        predict_video(module, checkpoint, video, Path(out), batch_size=batch_size)
        seconds = time.perf_counter() - start
        frames = json.loads((Path(out) / f"{video.stem}.json").read_text())["frames"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    images = []
    for frame in decode_frames(video, DecodeReport()):
        images.append(frame.image)
        if len(images) == 20 + latency_frames:
            break
    times = []
    for i, image in enumerate(images):
        start = time.perf_counter()
        predict_images(module, [image])
        if i >= 20:
            times.append(1000 * (time.perf_counter() - start))
    return {
        "frames": frames,
        "seconds": seconds,
        "fps": frames / seconds,
        "peak_mb": peak_mb,
        "threads": torch.get_num_threads(),
        "device": device,
        "precision": {"none": "-", "onnx": "onnxruntime"}.get(engine) or getattr(module, "precision", "fp32"),
        "latency_ms": [float(np.percentile(times, 50)), float(np.percentile(times, 99))] if times else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("video", type=Path)
    parser.add_argument("--frames", type=int, nargs="*", default=[0], help="first N frames (0: the whole video)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--engine", nargs="+", default=["torch"], choices=("torch", "one-pass", "onnx", "none"))
    parser.add_argument("--latency-frames", type=int, default=200, help="frames timed one at a time (0: none)")
    parser.add_argument("--precision", default="auto", help="auto | fp32 | bf16, as predict.py --precision")
    parser.add_argument("--results", type=Path, help="write each measurement's row here (bench/report.py)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        r = measure(
            args.checkpoint, args.video, args.batch_size, args.device, args.one, args.latency_frames, args.precision
        )
        print(json.dumps(r))
        return
    print(
        "| video | engine | precision | frames | seconds | frames/s end to end | peak MB | one frame p50 / p99 ms "
        "| device |\n|---|---|---|---|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory() as tmp:
        models = {"torch": args.checkpoint, "one-pass": args.checkpoint, "none": args.checkpoint}
        if "onnx" in args.engine:
            from seqattn.export import export

            models["onnx"] = export(args.checkpoint, "onnx", Path(tmp) / "model.onnx")
        for n in args.frames:
            video = args.video if n <= 0 else cut(args.video, n, Path(tmp) / f"{args.video.stem}_first{n}.mp4")
            for engine in args.engine:
                cmd = [sys.executable, __file__, "--one", engine, str(models[engine]), str(video)]
                cmd += ["--batch-size", str(args.batch_size), "--device", args.device]
                cmd += ["--latency-frames", str(args.latency_frames), "--precision", args.precision]
                proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                if proc.returncode != 0:
                    print(f"| {video.name} | {engine} | failed: {proc.stderr.strip().splitlines()[-1][:200]} |")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                latency = "-" if r["latency_ms"] is None else "{:.1f} / {:.1f}".format(*r["latency_ms"])
                print(
                    f"| {args.video.name} (first {n or 'all'}) | {engine} | {r['precision']} | {r['frames']} "
                    f"| {r['seconds']:.1f} "
                    f"| {r['fps']:.0f} | {r['peak_mb']:.0f} | {latency} | {r['device']}, {r['threads']} threads |",
                    flush=True,
                )
                if args.results:
                    write_result(args, engine, n, r)


def write_result(args: argparse.Namespace, engine: str, frames: int, r: dict) -> None:
    """One measurement as a row of bench/report.py's schema, in ``args.results``."""
    from report import new_result

    row = new_result(
        label=engine,
        set=args.video.name,
        model=args.checkpoint.name,
        video_fps=r["fps"],
        latency_p50_ms=r["latency_ms"][0] if r["latency_ms"] else None,
        latency_p99_ms=r["latency_ms"][1] if r["latency_ms"] else None,
        peak_mb=r["peak_mb"],
        device=f"{r['device']}, {r['threads']} threads, {r['precision']}",
        command=shlex.join(["python", "bench/video_throughput.py", *sys.argv[1:]]),
        protocol=f"{r['frames']} frames",
    )
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"video-{engine}-{frames or 'all'}.json").write_text(json.dumps(row, indent=1) + "\n")


if __name__ == "__main__":
    main()
