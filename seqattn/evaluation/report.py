"""report.md + learning_curve.png + history.csv: what a run did, from summary.json's numbers and the epoch history."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from seqattn.io.files import save_figure, write_csv, write_text

# Last-epoch validation error this much worse than the best (relative) triggers the overfitting warning.
OVERFIT_WORSE = 0.10
CURVE_FILE = "learning_curve.png"
HISTORY_FILE = "history.csv"
HISTORY_KEYS = ("train/epe_px", "val/epe_px", "train/loss", "val/loss", "lr")


def num(value: float | None, unit: str = "") -> str:
    """The one number format of summaries and reports (4 significant digits), n/a for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4g}{unit}"


def _at(history: list[dict[str, float]], epoch: int | None) -> dict[str, float]:
    return next((r for r in history if r["epoch"] == epoch), {})


def overfitting_warning(summary: dict[str, Any], history: list[dict[str, float]]) -> str | None:
    """A warning when the last epoch's validation error is much worse than the best one, else None."""
    best, best_epoch, last_epoch = summary.get("best_score"), summary.get("best_epoch"), summary.get("last_epoch")
    last = _at(history, last_epoch).get("val/epe_px")
    if best is None or best_epoch is None or last is None or not math.isfinite(last) or best <= 0:
        return None
    if last <= best * (1 + OVERFIT_WORSE):
        return None
    return (
        f"**Overfitting warning**: best at epoch {best_epoch}, training ran to epoch {last_epoch}. "
        f"The last validation EPE ({num(last)} px) is {100 * (last / best - 1):.0f}% worse than the best "
        f"({num(best)} px). The best checkpoint (epoch {best_epoch}) is the one tested; consider more "
        "data or augmentation, a lower learning rate, or a smaller early-stopping patience."
    )


def _gap_rows(summary: dict[str, Any], history: list[dict[str, float]]) -> list[str]:
    rows = []
    for label, epoch in (("best", summary.get("best_epoch")), ("last", summary.get("last_epoch"))):
        record = _at(history, epoch)
        train, val = record.get("train/epe_px"), record.get("val/epe_px")
        gap = None if train is None or val is None else val - train
        rows.append(f"| {label} ({epoch}) | {num(train)} | {num(val)} | {num(gap)} |")
    return rows


def format_report(summary: dict[str, Any], history: list[dict[str, float]], output_dir: Path) -> str:
    """Markdown report. ``summary`` is the content of summary.json, so both state the same numbers."""
    monitor = summary.get("monitor", "val/epe_px")
    how = "early stopping" if summary.get("stopped_early") else "no early stop"
    lines = [
        "# Training report",
        "",
        f"Run folder: `{output_dir}`",
        "",
        "| | |",
        "|---|---|",
        f"| best {monitor} | {num(summary.get('best_score'), ' px')} at epoch {summary.get('best_epoch')} |",
        f"| last epoch | {summary.get('last_epoch')} |",
        f"| stopped | after epoch {summary.get('last_epoch')} ({how}): {summary.get('stop_reason')} |",
        f"| loss threshold | {num(summary.get('loss_threshold'))} normalized = "
        f"{num(summary.get('loss_threshold_px'))} px at the {summary.get('input_size')} px input |",
        f"| best checkpoint | `{summary.get('best_checkpoint')}` |",
        f"| last checkpoint | `{summary.get('last_checkpoint')}` |",
        "",
    ]
    warning = overfitting_warning(summary, history)
    if warning:
        lines += [f"> {warning}", ""]

    lines += ["## Train vs validation EPE (px)", ""]
    if history:
        lines += ["| epoch | train | validation | gap (val - train) |", "|---|---|---|---|"]
        lines += _gap_rows(summary, history)
        lines += [
            "",
            "Train EPE is the running mean over each epoch, in training mode and on augmented images,",
            "so it is not measured like validation; a growing gap still signals overfitting.",
        ]
    else:
        lines.append("No epoch history (callbacks.metrics_history is off).")

    lines += ["", "## Test", ""]
    test = summary.get("test_metrics") or {}
    if summary.get("test_checkpoint"):
        lines += [f"From `{summary['test_checkpoint']}` (epoch {summary.get('test_checkpoint_epoch')}).", ""]
        lines += ["| metric | value |", "|---|---|", *(f"| {k} | {num(v)} |" for k, v in sorted(test.items()))]
    else:
        lines.append("No test run.")

    if history:
        keys = [k for k in HISTORY_KEYS if any(k in r for r in history)]
        lines += ["", "## Learning curve", "", f"![learning curve]({CURVE_FILE})", "", "## Per epoch", ""]
        lines += ["| epoch | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        lines += [f"| {r['epoch']} | " + " | ".join(num(r.get(k)) for k in keys) + " |" for r in history]
    return "\n".join(lines) + "\n"


def plot_learning_curve(history: list[dict[str, float]], best_epoch: int | None, path: Path) -> Path:
    """EPE (train, validation, best epoch marked) over validation loss and learning rate, as PNG."""
    # Figure without pyplot: renders with Agg, touches no global backend state, works headless.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]

    def series(key: str) -> list[float]:
        return [r.get(key, math.nan) for r in history]

    fig = Figure(figsize=(8, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(epochs, series("train/epe_px"), "o-", ms=3, label="train EPE")
    top.plot(epochs, series("val/epe_px"), "o-", ms=3, label="validation EPE")
    if best_epoch is not None:
        top.axvline(best_epoch, color="grey", ls="--", lw=1, label=f"best epoch {best_epoch}")
    top.set_ylabel("EPE (original px)")
    top.legend()
    top.grid(alpha=0.3)
    bottom.plot(epochs, series("val/loss"), "o-", ms=3, color="tab:red", label="validation loss")
    bottom.set_ylabel("validation loss")
    bottom.set_xlabel("epoch")
    bottom.grid(alpha=0.3)
    lr_axis = bottom.twinx()
    lr_axis.plot(epochs, series("lr"), color="tab:green", label="learning rate")
    lr_axis.set_ylabel("learning rate")
    bottom.legend(handles=bottom.get_lines() + lr_axis.get_lines(), loc="upper right", fontsize="small")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    save_figure(fig, path, dpi=100)
    return path


def write_history_csv(history: list[dict[str, float]], path: Path) -> Path:
    keys = ["epoch", *sorted({k for r in history for k in r} - {"epoch"})]
    return write_csv(path, [keys, *([r.get(k, "") for k in keys] for r in history)])


def write_report(output_dir: Path, summary: dict[str, Any], history: list[dict[str, float]]) -> list[Path]:
    """Write report.md (and, with a history, learning_curve.png and history.csv) into ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    if history:
        paths.append(plot_learning_curve(history, summary.get("best_epoch"), output_dir / CURVE_FILE))
        paths.append(write_history_csv(history, output_dir / HISTORY_FILE))
    report = output_dir / "report.md"
    write_text(report, format_report(summary, history, output_dir))
    return [report, *paths]


def format_summary(s: dict[str, Any], output_dir: Path) -> str:
    """The run summary train.py prints (``s``: summary.json's content)."""
    lines = [
        "",
        "=" * 30 + " run summary " + "=" * 30,
        f"run folder     : {output_dir}",
        f"loss threshold : {num(s['loss_threshold'])} normalized"
        f" = {num(s['loss_threshold_px'])} px at {s['input_size']} px input",
        *label_offset_line(s),
        f"best {s['monitor']:<10}: {num(s['best_score'])} at epoch {s['best_epoch']}",
        f"stopped        : after epoch {s['last_epoch']} ({s['stop_reason']})",
        f"best checkpoint: {s['best_checkpoint']}",
        f"last checkpoint: {s['last_checkpoint']}",
        f"wall time      : {num(s['wall_time_s'])} s"
        + (f" (continued {s['resumed_from']})" if s["resumed_from"] else ""),
    ]
    if s["test_checkpoint"]:
        lines.append(f"test metrics   : from {s['test_checkpoint']} (epoch {s['test_checkpoint_epoch']})")
        lines += format_metrics(s["test_metrics"])
    else:
        lines.append("test metrics   : none (no test run)")
    return "\n".join(lines + ["=" * 73])


def label_offset_line(s: dict[str, Any]) -> list[str]:
    """Where the labels sit from the landmarks, as estimated (docs/training.md)."""
    if not s.get("label_offset_px"):
        return []
    dx, dy = s["label_offset_px"]
    return [
        f"label offset   : dx {dx:+.2f}, dy {dy:+.2f} px at {s['input_size']} px input, added to predictions"
        " (docs/training.md#labels-that-sit-off-the-landmark)"
    ]


def format_metrics(metrics: dict[str, float], indent: str = "  ") -> list[str]:
    """One ``name  value`` line per metric, sorted, 4 significant digits (as the run summary)."""
    return [f"{indent}{k:<28} {num(float(v))}" for k, v in sorted(metrics.items())]
