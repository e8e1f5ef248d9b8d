"""Accuracy/speed benchmark: the protocol of ../shared/data/README.md on any data config.

Each configuration (a quoted string of train.py overrides) trains in its own process under a
wall-time budget (``--minutes``, Lightning ``max_time``) or a fixed amount of training
(``--images``: ``train_images``, the same steps on any machine; docs/protocol.md), stops early
and picks its checkpoint on val, is tested on test in original pixels, and prints one markdown
row: mean / median / p90 px, PCK@5px, gross-miss rate (share of points off by more than 10 % of
the image diagonal), epochs, training images/s, batched inference images/s (CPU), peak resident
memory of the training process (and, in its result, of its largest DataLoader worker).

    python bench/accuracy.py --minutes 10 \\
        --common "data=dlc data.path=../shared/data/openfield data.split_file=../shared/data/openfield/splits.json" \\
        "model=sequential" "model=softargmax supervision.heatmap_weight=0"
    python bench/accuracy.py --images 30000 --common "..." "seed=0"    # development comparisons

Its result (``bench_result.json``, kept in the run's folder) also records the protocol, the images
trained (optimizer steps x batch size) and the wall time, beside the error, not mixed into it; it
is a row in bench/report.py's schema: with its "table", "label" and "alone" filled in and put in
bench/results/, it appears in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import resource
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from report import new_result

ROOT = Path(__file__).resolve().parents[1]
RESULT_FILE = "bench_result.json"  # a run's row, kept in its folder: bench/report.py's schema
HEADER = (
    "| configuration | mean px | median px | p90 px | PCK@5px | gross miss | epochs | train img/s | infer img/s"
    " | peak MB |\n|---|---|---|---|---|---|---|---|---|---|"
)


def run_one(overrides: list[str], minutes: float, out_dir: Path, images: int | None = None) -> dict:
    """Train + test in this process under ``minutes`` of wall time, or ``images`` training images
    when given; return the row's numbers."""
    from seqattn.checkpoint import read_checkpoint
    from seqattn.inference import load_checkpoint
    from seqattn.training.budget import images_per_step
    from seqattn.training.train import train

    budget = f"00:00:{int(minutes):02d}:{int(round((minutes % 1) * 60)):02d}"
    limit = [f"train_images={images}"] if images else [f"+trainer.max_time={budget}"]
    extra = [
        f"paths.output_dir={out_dir}",
        "logger=csv",
        "trainer.max_epochs=-1",
        *limit,
        "trainer.enable_progress_bar=false",
        "+callbacks.throughput._target_=seqattn.callbacks.ThroughputMonitor",
    ]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, *extra])
    summary = train(cfg)
    metrics = summary.test_metrics
    steps = read_checkpoint(summary.last_checkpoint)["global_step"] if summary.last_checkpoint else 0
    model = load_checkpoint(summary.best_checkpoint).eval()
    size = model.codec.side
    batch = torch.randn(32, 3, size, size)
    with torch.no_grad():
        model(batch)  # warm-up
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < 10:
            model(batch)
            n += len(batch)
    infer = n / (time.perf_counter() - start)
    rates = [
        float(r["train/images_per_s"])
        for r in csv.DictReader(open(next(out_dir.rglob("metrics.csv"))))
        if r.get("train/images_per_s")
    ]
    return {
        "seed": int(cfg.seed),
        "mean": metrics.get("test/epe_px"),
        "median": metrics.get("test/median_px"),
        "p90": metrics.get("test/p90_px"),
        "pck5": metrics.get("test/pck@5px"),
        "gross": metrics.get("test/gross_miss", float("nan")),
        "epochs": summary.last_epoch + 1,
        "best_epoch": summary.best_epoch,
        "stopped_early": summary.stopped_early,
        "protocol": f"{images} images" if images else f"{minutes:g} min",
        "images": steps * images_per_step(cfg),  # trained, to the last finished checkpoint
        "wall_s": summary.wall_time_s,  # set-up and test included
        "budget_share": None if images else summary.wall_time_s / (60 * minutes),
        "train_ips": rates[-1] if rates else float("nan"),
        "infer_ips": infer,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # the largest DataLoader worker's (they share the cached images with the main process)
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "run": str(out_dir),
    }


def result_row(r: dict, common: str, config: str) -> dict:
    """The run's numbers (``run_one``'s keys, which the other bench scripts read) as a row of
    bench/report.py's schema, with the command that makes this row alone."""
    path = next((o.split("=", 1)[1] for o in shlex.split(common + " " + config) if o.startswith("data.path=")), None)
    budget = (
        f"--images {r['protocol'].split()[0]}"
        if r["protocol"].endswith("images")
        else f"--minutes {r['protocol'].split()[0]}"
    )
    command = f"python bench/accuracy.py {budget} --common {shlex.quote(common)} {shlex.quote(config)}"
    fields = new_result(
        label=config or "default",
        set=Path(path).name if path else "synthetic",
        model=config or "default",
        seeds=[r["seed"]],
        mean_px=r["mean"],
        p90_px=r["p90"],
        median_px=r["median"],
        train_images_per_s=r["train_ips"] if math.isfinite(r["train_ips"]) else None,
        peak_mb=r["peak_mb"],
        command=command,
        protocol=r["protocol"],
    )
    return {**r, **fields}


def row(label: str, r: dict) -> str:
    if "error" in r:
        return f"| {label} | failed: {r['error']} | | | | | | | | |"
    return (
        f"| {label} | {r['mean']:.2f} | {r['median']:.2f} | {r['p90']:.2f} | {r['pck5']:.3f} "
        f"| {100 * r['gross']:.1f} % "
        f"| {r['epochs']} (best {r['best_epoch']}) | {r['train_ips']:.1f} | {r['infer_ips']:.0f} | {r['peak_mb']:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*", default=[""], help="one quoted string of overrides per configuration")
    parser.add_argument("--common", default="", help="overrides applied to every configuration")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, default=10.0, help="training wall-time budget per configuration")
    budget.add_argument("--images", type=int, help="instead: training images per configuration (train_images)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_runs", help="folder for the runs")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:  # child process: one configuration, JSON on the last line
        overrides = shlex.split(args.common) + shlex.split(args.configs[0])
        result = json.dumps(
            result_row(run_one(overrides, args.minutes, args.out, args.images), args.common, args.configs[0])
        )
        (args.out / RESULT_FILE).write_text(result)
        print(result)
        return

    protocol = f"{args.images} training images" if args.images else f"{args.minutes:g} min"
    print(f"budget {protocol} per configuration; common: {args.common or '(none)'}")
    print(HEADER, flush=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for i, config in enumerate(args.configs):
        result = run_row(args.common, config, args.minutes, args.out / f"{stamp}-{i}", args.images)
        print(row(config or "(defaults)", result), flush=True)


def run_row(common: str, config: str, minutes: float, out_dir: Path, images: int | None = None) -> dict:
    """One configuration in a process of its own (its own peak memory); its numbers, or {"error": ...}.
    ``images``: a fixed amount of training instead of ``minutes``."""
    budget = ["--images", str(images)] if images else ["--minutes", str(minutes)]
    cmd = [sys.executable, __file__, "--one", *budget, "--out", str(out_dir), "--common", common]
    proc = subprocess.run([*cmd, config], capture_output=True, text=True, cwd=ROOT)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:200]}


if __name__ == "__main__":
    main()
