"""Label-budget curves: test error against the number of labelled frames, without and with the
set's own video as frames without labels (data.unlabelled), and the jitter of each model's
predictions on that video (seqattn/inference/jitter.py).

Nested, seeded subsets of the fixed training split (10, 20, 40 frames and all of them) of
openfield and mirror-mouse; validation and test unchanged; the protocol of
../shared/data/README.md (10-minute budget, selection on validation only, the test split read
once per row). Writes the table to stdout and ``label_budget.png`` into --out.

Each set has one recording: the "with the video" runs learn from the very frames whose jitter is
measured, so the jitter column says how steady a model is on the videos it was given, not on
unseen ones.

    python bench/label_budget.py --minutes 10 --seeds 0 1
    python bench/label_budget.py --sets openfield --budgets 20 --minutes 2 --seeds 0   # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from accuracy import ROOT, run_row
from generalisation import COLUMNS, spread
from small_sets import SHARED, subset, write_split

VIDEOS = {"openfield": "openfield/videos", "mirror-mouse": "mirror-mouse/videos"}
BUDGETS = ["10", "20", "40", "all"]
WITH_VIDEO = "supervision.unlabelled.consistency_weight=0.1 supervision.unlabelled.temporal_weight=0.1"


def video_jitter(run: Path, video: Path) -> float | None:
    """The median frame-to-frame step of the run's best checkpoint on ``video`` (predict.py)."""
    summary = json.loads((run / "summary.json").read_text())
    out = run / "video"
    cmd = [sys.executable, str(ROOT / "predict.py"), summary["best_checkpoint"], str(video), "--out", str(out)]
    if subprocess.run(cmd, cwd=ROOT, capture_output=True).returncode != 0:
        return None
    return json.loads((out / f"{video.stem}.json").read_text())["jitter"]["median_step_px"]


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len({r["set"] for r in rows}), figsize=(10, 4), squeeze=False)
    for ax, name in zip(axes[0], dict.fromkeys(r["set"] for r in rows), strict=False):
        for video, style in ((False, "o-"), (True, "s--")):
            pts = [r for r in rows if r["set"] == name and r["video"] == video]
            ax.errorbar(
                [r["frames"] for r in pts],
                [r["mean"] for r in pts],
                [r["std"] for r in pts],
                fmt=style,
                label="with the video" if video else "labels only",
                capsize=3,
            )
        ax.set(xscale="log", xlabel="labelled training frames", ylabel="test mean error (px)", title=name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sets", nargs="+", default=list(VIDEOS), choices=list(VIDEOS))
    parser.add_argument("--budgets", nargs="+", default=BUDGETS, choices=BUDGETS)
    parser.add_argument("--with-video", default=WITH_VIDEO, help="overrides that turn the unlabelled terms on")
    parser.add_argument("--runs", nargs="+", default=["labels", "video"], choices=["labels", "video"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench_runs" / "label_budget")
    args = parser.parse_args()

    stamp, work = datetime.now().strftime("%Y%m%d-%H%M%S"), Path(tempfile.mkdtemp(prefix="seqattn-budget-"))
    print(f"budget {args.minutes:g} min per run, seeds {args.seeds}; mean ± spread (population std) over seeds")
    print(
        "| set | labelled | video | "
        + " | ".join(c[1] for c in COLUMNS)
        + " | video jitter px | peak MB (process / largest worker) |"
    )
    print("|---" * (len(COLUMNS) + 5) + "|", flush=True)
    rows = []
    for name in args.sets:
        splits = json.loads((SHARED / name / "splits.json").read_text())
        (video,) = sorted((SHARED / VIDEOS[name]).glob("*.mp4"))
        for budget in args.budgets:
            train = splits["train"] if budget == "all" else subset(splits, int(budget))
            split = write_split(work / f"{name}-{budget}.json", train, splits["val"], splits["test"])
            common = f"data=dlc data.path={SHARED / name} data.split_file={split}"
            for with_video in [kind == "video" for kind in args.runs]:
                extra = f"data.unlabelled={SHARED / VIDEOS[name]} {args.with_video}" if with_video else ""
                runs = []
                for seed in args.seeds:
                    out = args.out / f"{stamp}-{name}-{budget}-{'video' if with_video else 'labels'}-seed{seed}"
                    result = run_row(common, f"{extra} seed={seed}".strip(), args.minutes, out)
                    if "error" not in result:
                        result["jitter"] = video_jitter(Path(result["run"]), video)
                    runs.append(result)
                ok = [r for r in runs if "error" not in r]
                if not ok:
                    print(f"| {name} | {budget} | {with_video} | failed: {runs[0]['error']} |", flush=True)
                    continue
                cells = [spread([r[key] for r in ok], d, 100 if key == "gross" else 1) for key, _, d in COLUMNS]
                jitter = spread([r["jitter"] for r in ok if r["jitter"] is not None], 2)
                peak = f"{max(r['peak_mb'] for r in ok):.0f} / {max(r['worker_peak_mb'] for r in ok):.0f}"
                print(
                    f"| {name} | {len(train)} | {'yes' if with_video else 'no'} | "
                    + " | ".join(cells)
                    + f" | {jitter} | {peak} |",
                    flush=True,
                )
                means = [r["mean"] for r in ok]
                rows.append(
                    {
                        "set": name,
                        "frames": len(train),
                        "video": with_video,
                        "mean": sum(means) / len(means),
                        "std": statistics.pstdev(means),
                    }
                )
    args.out.mkdir(parents=True, exist_ok=True)
    plot(rows, args.out / "label_budget.png")
    print(f"plot: {args.out / 'label_budget.png'}")


if __name__ == "__main__":
    main()
