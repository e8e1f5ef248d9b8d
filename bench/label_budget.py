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
    python bench/label_budget.py --report --out DIR     # the table and plot of every run in DIR

Every run keeps its row in its folder, and the table and plot are made from all the runs in
--out: a table too long for one sitting can be run in parts (one seed or set per call, the same
--out) and read as one. A folder holds one run per seed of each row; an unfinished run is listed
and left out.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from accuracy import RESULT_FILE, ROOT, run_row
from generalisation import COLUMNS, spread
from small_sets import SHARED, subset, write_split

VIDEOS = {"openfield": "openfield/videos", "mirror-mouse": "mirror-mouse/videos"}
BUDGETS = ["10", "20", "40", "all"]
WITH_VIDEO = "supervision.unlabelled.consistency_weight=0.1 supervision.unlabelled.temporal_weight=0.1"
RUN_NAME = re.compile(r"\d{8}-\d{6}-(?P<set>.+)-(?P<budget>\d+|all)-(?P<kind>labels|video)-seed(?P<seed>\d+)")


def video_jitter(run: Path, video: Path) -> None:
    """predict.py with the run's best checkpoint on ``video``: its JSON (with the jitter) in ``run``/video."""
    summary = json.loads((run / "summary.json").read_text())
    cmd = [sys.executable, str(ROOT / "predict.py"), summary["best_checkpoint"], str(video)]
    subprocess.run([*cmd, "--out", str(run / "video")], cwd=ROOT, capture_output=True)


def read_run(folder: Path) -> dict | None:
    """A finished run of this script, from its folder (None when it did not finish)."""
    name = RUN_NAME.fullmatch(folder.name)
    if name is None or not (folder / "summary.json").exists():
        return None
    summary, info = (json.loads((folder / f).read_text()) for f in ("summary.json", "run_info.json"))
    metrics, config = summary["test_metrics"], info["config"]
    terms = config["supervision"]["unlabelled"]
    jitter = next((json.loads(f.read_text())["jitter"] for f in (folder / "video").glob("*.json")), {})
    row = json.loads((folder / RESULT_FILE).read_text()) if (folder / RESULT_FILE).exists() else {}
    return {
        "set": name["set"],
        "frames": info["adaptive"]["data"]["num_train"],
        "terms": (
            f"weights {terms['consistency_weight']:g} / {terms['temporal_weight']:g},"
            f" {config['data']['unlabelled_batch_size']} pairs per batch"
            if name["kind"] == "video"
            else ""
        ),
        "seed": int(name["seed"]),
        "mean": metrics["test/epe_px"],
        "median": metrics["test/median_px"],
        "p90": metrics["test/p90_px"],
        "gross": metrics["test/gross_miss"],
        "jitter": jitter.get("median_step_px"),
        "jumps": jitter.get("jump_share"),
        "peak_mb": row.get("peak_mb"),
        "worker_peak_mb": row.get("worker_peak_mb"),
        "commit": (info.get("git_commit") or "?")[:7],
        "folder": folder.name,
    }


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len({r["set"] for r in rows}), figsize=(10, 4), squeeze=False)
    for ax, name in zip(axes[0], dict.fromkeys(r["set"] for r in rows), strict=False):
        for terms in dict.fromkeys(r["terms"] for r in rows):  # a line for labels only, one per video setting
            pts = sorted((r for r in rows if r["set"] == name and r["terms"] == terms), key=lambda r: r["frames"])
            if pts:
                ax.errorbar(
                    [r["frames"] for r in pts],
                    [r["mean"] for r in pts],
                    [r["std"] for r in pts],
                    fmt="s--" if terms else "o-",
                    label=f"with the video ({terms})" if terms else "labels only",
                    capsize=3,
                )
        ax.set(xscale="log", xlabel="labelled training frames", ylabel="test mean error (px)", title=name)
        frames = sorted({r["frames"] for r in rows if r["set"] == name})
        ax.set_xticks(frames, [str(f) for f in frames], minor=False)
        ax.set_xticks([], minor=True)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report(out: Path) -> None:
    """The table (markdown, to stdout) and ``label_budget.png`` of every finished run in ``out``."""
    folders = sorted(f for f in out.iterdir() if f.is_dir() and RUN_NAME.fullmatch(f.name)) if out.is_dir() else []
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for folder in folders:
        run = read_run(folder)
        if run is None:
            print(f"unfinished, left out: {folder}")
            continue
        groups[(run["set"], run["frames"], run["terms"])].append(run)
    if not groups:
        sys.exit(f"error: no finished run of bench/label_budget.py in {out}")
    print("mean ± spread (population std) over seeds; frames without labels: the weights of consistency /")
    print("temporal; jitter: the median frame-to-frame step on the set's recording, original px; jumps: the")
    print("share of steps above 10 % of the animal's size")
    print("| set | labelled | frames without labels | seeds | " + " | ".join(c[1] for c in COLUMNS), end="")
    print(" | jitter px | jumps % | peak MB (process / largest worker) | commits |")
    print("|---" * (len(COLUMNS) + 8) + "|")
    rows = []
    for (name, frames, terms), runs in sorted(groups.items()):
        seeds = [r["seed"] for r in runs]
        if len(set(seeds)) < len(seeds):
            sys.exit(
                f"error: {out} holds one seed twice for {name}, {frames} frames"
                f" ({', '.join(r['folder'] for r in runs)}): keep one run per seed in a folder"
            )
        cells = [spread([r[key] for r in runs], d, 100 if key == "gross" else 1) for key, _, d in COLUMNS]
        peaks = [(r["peak_mb"], r["worker_peak_mb"]) for r in runs if r["peak_mb"] is not None]
        print(
            f"| {name} | {frames} | {terms or 'none'} | {', '.join(map(str, sorted(seeds)))} | "
            + " | ".join(cells)
            + f" | {spread([r['jitter'] for r in runs], 2)} | {spread([r['jumps'] for r in runs], 1, 100)}"
            + (f" | {max(p for p, _ in peaks):.0f} / {max(w for _, w in peaks):.0f}" if peaks else " | n/a")
            + f" | {', '.join(sorted({r['commit'] for r in runs}))} |"
        )
        means = [r["mean"] for r in runs]
        mean, std = statistics.fmean(means), statistics.pstdev(means)
        rows.append({"set": name, "frames": frames, "terms": terms, "mean": mean, "std": std})
    plot(rows, out / "label_budget.png")
    print(f"plot: {out / 'label_budget.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sets", nargs="+", default=list(VIDEOS), choices=list(VIDEOS))
    parser.add_argument("--budgets", nargs="+", default=BUDGETS, choices=BUDGETS)
    parser.add_argument("--with-video", default=WITH_VIDEO, help="overrides that turn the unlabelled terms on")
    parser.add_argument("--runs", nargs="+", default=["labels", "video"], choices=["labels", "video"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench_runs" / "label_budget")
    parser.add_argument("--report", action="store_true", help="train nothing: the table and plot of the runs in --out")
    args = parser.parse_args()
    if args.report:
        report(args.out)
        return

    stamp, work = datetime.now().strftime("%Y%m%d-%H%M%S"), Path(tempfile.mkdtemp(prefix="seqattn-budget-"))
    print(f"budget {args.minutes:g} min per run, seeds {args.seeds}, into {args.out}", flush=True)
    for name in args.sets:
        splits = json.loads((SHARED / name / "splits.json").read_text())
        (video,) = sorted((SHARED / VIDEOS[name]).glob("*.mp4"))
        for budget in args.budgets:
            train = splits["train"] if budget == "all" else subset(splits, int(budget))
            split = write_split(work / f"{name}-{budget}.json", train, splits["val"], splits["test"])
            common = f"data=dlc data.path={SHARED / name} data.split_file={split}"
            for kind in args.runs:
                extra = f"data.unlabelled={SHARED / VIDEOS[name]} {args.with_video}" if kind == "video" else ""
                for seed in args.seeds:
                    out = args.out / f"{stamp}-{name}-{budget}-{kind}-seed{seed}"
                    result = run_row(common, f"{extra} seed={seed}".strip(), args.minutes, out)
                    if "error" in result:
                        print(f"{out.name}: failed: {result['error']}", flush=True)
                        continue
                    video_jitter(out, video)
                    print(f"{out.name}: mean {result['mean']:.2f} px, p90 {result['p90']:.2f} px", flush=True)
    report(args.out)


if __name__ == "__main__":
    main()
