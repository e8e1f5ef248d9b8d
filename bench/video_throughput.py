"""Video prediction end to end (decode + letterbox + predict + write .h5/.csv/.json): frames/s and peak memory.

Each measurement runs in its own process, so its peak resident memory is its own; ``--frames``
cuts the video to its first N frames (re-encoded losslessly beforehand, not timed) to show that
memory does not grow with the length.

    python bench/video_throughput.py <checkpoint.ckpt> ../shared/data/openfield/videos/m3v1mp4.mp4 \\
        --frames 500 0 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import resource
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


def measure(checkpoint: Path, video: Path, batch_size: int, device: str) -> dict:
    import torch

    from seqattn.inference.batch import load_checkpoint, ready_for_inference
    from seqattn.inference.video_predict import predict_video

    module = ready_for_inference(load_checkpoint(checkpoint), device)  # as predict.py prepares it
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        predict_video(module, checkpoint, video, Path(out), batch_size=batch_size)
        seconds = time.perf_counter() - start
        frames = json.loads((Path(out) / f"{video.stem}.json").read_text())["frames"]
    return {
        "frames": frames,
        "seconds": seconds,
        "fps": frames / seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "device": device,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("video", type=Path)
    parser.add_argument("--frames", type=int, nargs="*", default=[0], help="first N frames (0: the whole video)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.checkpoint, args.video, args.batch_size, args.device)))
        return
    print("| video | frames | seconds | frames/s end to end | peak MB | device |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.frames:
            video = args.video if n <= 0 else cut(args.video, n, Path(tmp) / f"{args.video.stem}_first{n}.mp4")
            cmd = [sys.executable, __file__, "--one", str(args.checkpoint), str(video)]
            cmd += ["--batch-size", str(args.batch_size), "--device", args.device]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                print(f"| {video.name} | failed: {proc.stderr.strip().splitlines()[-1][:200]} | | | | |")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(
                f"| {args.video.name} (first {n or 'all'}) | {r['frames']} | {r['seconds']:.1f} | {r['fps']:.0f} "
                f"| {r['peak_mb']:.0f} | {r['device']}, {r['threads']} threads |",
                flush=True,
            )


if __name__ == "__main__":
    main()
