"""Sweep summary: one row per job of a multirun folder -> sweep_summary.csv, sweep_summary.md and a plot.

Written at the end of every ``python train.py -m ...`` by :class:`SweepSummary` (a Hydra callback,
``hydra.callbacks`` in conf/train.yaml), or for an existing sweep folder with
``python -m seqattn.training.sweep <sweep dir>``. The jobs are read by seqattn.training.sweep_jobs; a
job whose files cannot be read is a row naming the file, and the others are summarized as usual.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from seqattn.evaluation.report import num
from seqattn.io import files
from seqattn.training.sweep_jobs import TEST_KEY, JobRow, common_overrides, job_folders, read_job, swept_keys

CSV_FILE = "sweep_summary.csv"
MD_FILE = "sweep_summary.md"
PLOT_FILE = "sweep_test_epe.png"


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _columns(rows: list[JobRow]) -> list[tuple[str, Any]]:
    """(header, row -> cell) for the table, the swept keys after job and status."""
    monitor = rows[0].monitor if rows else "val/epe_px"
    return [
        ("job", lambda r: r.job),
        ("status", lambda r: r.status),
        *((key, lambda r, key=key: r.overrides.get(key, "")) for key in swept_keys(rows)),
        (f"best {monitor}", lambda r: r.best_val),
        ("best epoch", lambda r: r.best_epoch),
        ("stopped after epoch", lambda r: r.stop_epoch),
        (f"{TEST_KEY} (best ckpt)", lambda r: r.test_epe),
        ("wall time s", lambda r: None if r.wall_time_s is None else round(r.wall_time_s, 1)),
        ("run folder", lambda r: str(r.folder)),
        ("error", lambda r: r.error),
    ]


def write_csv(rows: list[JobRow], path: Path) -> Path:
    columns = _columns(rows)
    lines = [[name for name, _ in columns] + ["overrides"]]
    for r in rows:
        cells = ["" if (v := cell(r)) is None else v for _, cell in columns]
        lines.append(cells + [" ".join(f"{k}={v}" for k, v in r.overrides.items())])
    return files.write_csv(path, lines)


def _md_cell(value: Any) -> str:
    if value is None:
        return ""
    text = num(value) if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(rows: list[JobRow], sweep_dir: Path, plot: Path | None) -> str:
    columns = _columns(rows)
    done = [r for r in rows if r.test_epe is not None and math.isfinite(r.test_epe)]
    lines = [f"# Sweep summary: `{sweep_dir}`", ""]
    count = {status: sum(r.status == status for r in rows) for status in ("ok", "error", "missing", "unreadable")}
    lines.append(
        f"{len(rows)} jobs: {count['ok']} finished, {count['error']} failed, {count['missing']} without a summary"
        + (f", {count['unreadable']} unreadable." if count["unreadable"] else ".")
    )
    if common_overrides(rows):
        lines += ["", "Overrides of every job: `" + " ".join(common_overrides(rows)) + "`"]
    if done:
        best = min(done, key=lambda r: r.test_epe)
        lines += ["", f"Lowest {TEST_KEY}: {num(best.test_epe)} px, job {best.job}."]
    lines += ["", "| " + " | ".join(name for name, _ in columns) + " |", "|---" * len(columns) + "|"]
    lines += ["| " + " | ".join(_md_cell(cell(r)) for _, cell in columns) + " |" for r in rows]
    lines += ["", "Test EPE is that of each job's best checkpoint, in original-image pixels."]
    if plot:
        lines += ["", f"![{TEST_KEY} against the swept values]({plot.name})"]
    return "\n".join(lines) + "\n"


def plot_sweep(rows: list[JobRow], path: Path) -> Path | None:
    """Test EPE against each swept numeric value (one panel per key); None when there is nothing to plot."""
    from matplotlib.figure import Figure  # no pyplot: Agg, headless, no global state

    panels = []
    for key in swept_keys(rows):
        values = [_number(r.overrides.get(key)) for r in rows if key in r.overrides]
        points = sorted(
            (_number(r.overrides[key]), r.test_epe)
            for r in rows
            if key in r.overrides and r.test_epe is not None and math.isfinite(r.test_epe)
        )
        if points and None not in values:  # numeric values only: a swept model name has no axis
            panels.append((key, points))
    if not panels:
        return None
    fig = Figure(figsize=(4.5 * len(panels), 3.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, points) in zip(axes, panels, strict=True):
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, "o-" if len(panels) == 1 else "o", ms=5)
        if min(xs) > 0 and max(xs) >= 10 * min(xs):
            ax.set_xscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel(f"{TEST_KEY} (best checkpoint)")
        ax.grid(alpha=0.3)
    files.save_figure(fig, path, dpi=100)
    return path


def write_sweep_summary(sweep_dir: Path) -> list[Path]:
    """Write the CSV, the Markdown table and (if a numeric value was swept) the plot; return their paths."""
    sweep_dir = Path(sweep_dir)
    rows = [read_job(folder, sweep_dir) for folder in job_folders(sweep_dir)]
    if not rows:
        raise FileNotFoundError(f"no job folders (with .hydra/overrides.yaml) in {sweep_dir}")
    plot = plot_sweep(rows, sweep_dir / PLOT_FILE)
    md = sweep_dir / MD_FILE
    files.write_text(md, format_markdown(rows, sweep_dir, plot))
    return [write_csv(rows, sweep_dir / CSV_FILE), md, *([plot] if plot else [])]


class SweepSummary(Callback):
    """Hydra callback: writes the sweep summary when a multirun ends and says where it is."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            paths = write_sweep_summary(sweep_dir)
        except Exception as exc:  # noqa: BLE001 - the jobs' results are on disk; a summary failure must not hide them
            print(
                f"sweep summary failed ({type(exc).__name__}: {exc});"
                f" retry: python -m seqattn.training.sweep {sweep_dir}"
            )
            return
        print(f"sweep summary: {paths[1]} (table), {paths[0]}" + (f", {paths[2]} (plot)" if len(paths) > 2 else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seqattn.training.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder, e.g. multirun/<date>/<time>")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: no sweep folder {args.sweep_dir}", file=sys.stderr)
        return 2
    try:
        paths = write_sweep_summary(args.sweep_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(paths[1].read_text())
    print("written: " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
