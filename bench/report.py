"""The tables of docs/benchmarks.md (today's figures) and docs/ablations.md (the measurements behind
each default), made from the result files in bench/results/ (one JSON file per row).

    python bench/report.py            # rewrite every table of the pages from the result files
    python bench/report.py --check    # exit 1 where a page differs from what the result files give
    python bench/report.py --combine A/bench_result.json B/bench_result.json --table headline --label default
                                      # the seeds of one configuration as one row (mean ± spread), to stdout

A table sits between ``<!-- table:NAME start -->`` and ``<!-- table:NAME end -->`` on one of the PAGES
(each table on exactly one of them); its rows are the
result files whose "table" is NAME, in file-name order, and TABLES names its columns. Every result
file holds the fields of SCHEMA (null where a figure was not measured: shown as "–") and the extra
fields its table shows. A list holds one value per seed (or per run); a number with a field
``<field>_spread`` beside it is shown as "number ± spread" (the population standard deviation over
the seeds). The commands of a table's rows are listed under it, numbered; its "command" column
gives the numbers.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"
PAGES = ("benchmarks.md", "ablations.md")  # in DOCS: today's figures, then the measurements behind the defaults
MARKER = re.compile(r"<!-- table:(?P<name>[\w-]+) start -->\n(?P<body>.*?)<!-- table:(?P=name) end -->", re.DOTALL)

# every result file has these fields (value null where not measured)
SCHEMA = (
    *("table", "label", "set", "model", "seeds", "mean_px", "p90_px", "train_images_per_s", "video_fps"),
    *("peak_mb", "date", "commit", "alone", "command", "protocol"),
)


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    digits: int = 2  # decimals of a float; a result file's "digits" {field: n} overrides it
    suffix: str = ""
    join: str = ", "  # between the values of a list (one per seed, or per run)


PROVENANCE = [Column("date", "date"), Column("commit", "commit"), Column("alone", "alone")]
PROVENANCE += [Column("protocol", "protocol"), Column("command", "command")]
MEAN, P90 = Column("mean px", "mean_px"), Column("p90 px", "p90_px")
RATE, PEAK = Column("train img/s", "train_images_per_s", 1), Column("peak MB", "peak_mb", 0)

# fmt: off
COLUMNS: dict[str, list[Column]] = {
    "headline": [
        Column("set", "set"), Column("model", "label"), Column("seeds", "seeds"), MEAN, P90, RATE,
        Column("video frames/s", "video_fps", 0), PEAK, *PROVENANCE,
    ],
    "letterbox": [
        Column("set", "set"), Column("letterbox", "label"), Column("seeds", "seeds"), MEAN, P90, RATE,
        Column("training peak MB", "peak_mb", 0),
        Column("video frames/s, flip-averaged / one pass", "video_fps_flip_one", 0, join=" / "),
    ],
    "crop-input": [
        Column("set", "set"), Column("input", "label"), Column("seeds", "seeds"), Column("matched mean px", "mean_px"),
        Column("matched median px", "median_px"), Column("matched p90 px", "p90_px"), Column("OKS mAP", "oks_map", 3),
        RATE, Column("video frames/s, flip-averaged", "video_fps", 0), Column("training peak MB", "peak_mb", 0),
    ],
    "steps": [Column("set", "set"), Column("refinement steps, weights", "label"), MEAN, P90, RATE],
    "steps-by-k": [Column("set", "set"), Column("model", "label"), Column("seeds", "seeds"), MEAN, P90, RATE, PEAK],
    "glimpses": [
        Column("K", "keypoints", 0), Column("refinement, glimpses", "label"), RATE,
        Column("infer img/s (batch 32)", "infer_images_per_s", 0), PEAK,
    ],
    "loss": [Column("set", "set"), Column("loss", "label"), MEAN, Column("median px", "median_px"), P90, RATE],
    "heatmap": [
        Column("set", "set"), Column("mean px, weight 0", "mean_px_without"), Column("mean px, weight 0.1", "mean_px"),
        Column("p90 px, weight 0", "p90_px_without"), Column("p90 px, weight 0.1", "p90_px"), RATE,
        Column("weight 0: the run", "weight_0_run"),
    ],
    "flip": [
        Column("checkpoint", "label"), Column("mean px, one pass", "mean_px_one_pass"),
        Column("mean px, flip-averaged", "mean_px"), Column("p90 px, one pass", "p90_px_one_pass"),
        Column("p90 px, flip-averaged", "p90_px"),
        Column("ms per image, one pass / flip-averaged", "ms_per_image", 1, join=" / "),
    ],
    "regularisation": [Column("set", "set"), Column("change", "label"), Column("seeds", "seeds"), MEAN, P90, RATE],
    "small-sets": [
        Column("proxy", "set"), Column("default predicts", "label"), Column("seeds", "seeds"),
        Column("default: mean px", "mean_px"),
        Column("baseline: mean px", "baseline_mean_px"), Column("default: p90 px", "p90_px"),
        Column("baseline: p90 px", "baseline_p90_px"),
    ],
    "label-budget": [
        Column("set", "set"), Column("labelled", "label"), Column("mean px, labels only", "mean_px"),
        Column("mean px, with the video", "mean_px_video"), Column("p90 px, labels only", "p90_px"),
        Column("p90 px, with the video", "p90_px_video"), Column("jitter px, labels only", "jitter_px"),
        Column("jitter px, with the video", "jitter_px_video"),
    ],
    "memory": [
        Column("frames without labels", "label"), Column("peak MB, training process", "peak_mb", 0),
        Column("peak MB, largest worker", "worker_peak_mb", 0),
    ],
    "checkpoint": [
        Column("run (seed)", "label"), Column("val images", "val_images", 0),
        Column("mean px: lowest value / window / last", "mean_px_by_rule", join=" / "),
        Column("p90 px: lowest value / window / last", "p90_px_by_rule", join=" / "),
    ],
    "calibration": [
        Column("checkpoint", "label"), Column("AUROC", "auroc", 3), Column("ECE raw", "ece_raw", 3),
        Column("ECE scaled", "ece_scaled", 3), Column("pcutoff raw", "pcutoff_raw", 3),
        Column("pcutoff scaled", "pcutoff_scaled", 3), Column("test points kept", "kept_percent", 0, " %"),
        Column("within 5 px of those", "kept_within_5px_percent", 0, " %"),
    ],
    "video": [
        Column("engine", "label"), Column("frames/s end to end", "video_fps", 0),
        Column("one frame p50 ms", "latency_p50_ms", 1), Column("one frame p99 ms", "latency_p99_ms", 1), PEAK,
    ],
    "animals": [
        Column("set", "set"), Column("model", "label"), Column("seeds", "seeds"), Column("matched mean px", "mean_px"),
        Column("matched p90 px", "p90_px"), Column("recall", "recall", 3), Column("precision", "precision", 3),
        Column("OKS mAP", "oks_map", 3), Column("switches (video, test frames)", "video_switches", 0),
        RATE, Column("video frames/s", "video_fps", 0), Column("predict peak MB", "peak_mb", 0),
    ],
    "precision": [
        Column("checkpoint", "label"), Column("fp32 img/s", "fp32_images_per_s", 0),
        Column("bf16 img/s", "bf16_images_per_s", 0), Column("speed-up", "speedup", 2, " x"),
        Column("mean px moved", "mean_px_moved", 3), Column("max px moved", "max_px_moved", 3),
    ],
    "train-precision": [
        Column("training precision", "label"), Column("seeds", "seeds"), MEAN, P90, RATE, PEAK,
    ],
    "chip": [
        Column("measure", "label"), Column("code", "code"), Column("rate", "rate", 1), Column("unit", "unit"),
        Column("x before", "speedup", 2, " x"), Column("share of the chip's peak", "peak_share", 1, " %"),
        Column("one frame p50 / p99 ms", "latency", 1, join=" / "), PEAK,
    ],
    "rotation": [
        Column("training frames", "set"), Column("rotation in training", "label"),
        Column("mean px, test turned 0 / 90 / 180 / 270 deg", "mean_px_turned", join=" / "),
        Column("p90 px, test turned 0 / 90 / 180 / 270 deg", "p90_px_turned", join=" / "),
    ],
    "data": [
        Column("pipeline", "label"), Column("setup s", "setup_s", 1), Column("images/s", "loader_images_per_s", 0),
        Column("x model", "times_model", 1),
    ],
}
# fmt: on
# every table but the headline ends with the rows' provenance
TABLES = {name: columns if name == "headline" else columns + PROVENANCE for name, columns in COLUMNS.items()}


def fmt(value: Any, digits: int, suffix: str = "", join: str = ", ") -> str:
    """One value as the page shows it: "–" where not measured, lists joined, booleans as yes / no."""
    if value is None or value == []:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return join.join(fmt(v, digits, suffix) for v in value)
    if isinstance(value, float):
        return f"{value:.{digits}f}{suffix}"
    return f"{value}{suffix}".replace("|", "\\|")


def cell(row: dict[str, Any], column: Column) -> str:
    digits = row.get("digits", {}).get(column.field, column.digits)
    value, spread = row.get(column.field), row.get(f"{column.field}_spread")
    if isinstance(value, int | float) and not isinstance(value, bool) and spread is not None:
        return f"{fmt(value, digits)} ± {fmt(float(spread), digits)}{column.suffix}"
    return fmt(value, digits, column.suffix, column.join)


def commands(row: dict[str, Any]) -> list[str]:
    return [row["command"]] if isinstance(row["command"], str) else list(row["command"])


def name(row: dict[str, Any]) -> str:
    """A row as its notes name it: its label, after its set where the label does not say it."""
    return row["label"] if row["label"].startswith(row["set"]) else f"{row['set']}, {row['label']}"


def render(rows: list[dict[str, Any]], columns: list[Column]) -> str:
    """A table's markdown: the rows, then their commands (numbered as in the "command" column), then notes."""
    listed: list[str] = []
    for row in rows:
        listed += [c for c in commands(row) if c not in listed]
    lines = ["| " + " | ".join(c.header for c in columns) + " |", "|---" * len(columns) + "|"]
    for row in rows:
        cells = [
            ", ".join(str(listed.index(c) + 1) for c in commands(row))
            if column.field == "command"
            else cell(row, column)
            for column in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"{i}. `{c}`" for i, c in enumerate(listed, 1))]
    notes = [f"- {name(row)}: {row['notes']}" for row in rows if row.get("notes")]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def load(folder: Path = RESULTS) -> dict[str, list[dict[str, Any]]]:
    """The result files of ``folder`` by table, each checked against SCHEMA and TABLES."""
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    for path in sorted(folder.glob("*.json")):
        row = json.loads(path.read_text())
        missing = [f for f in SCHEMA if f not in row]
        if missing or row["table"] not in TABLES:
            raise ValueError(
                f"{path}: missing fields {missing}" if missing else f"{path}: unknown table {row['table']}"
            )
        tables[row["table"]].append(row)
    return tables


def rewrite(pages: dict[str, str], tables: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The pages (name: text) with every marked table made again from ``tables``; each table with
    rows must be marked exactly once over all the pages, and no other."""
    found = [m["name"] for page in pages.values() for m in MARKER.finditer(page)]
    wanted = [name for name, rows in tables.items() if rows]
    if sorted(found) != sorted(wanted):
        twice = sorted({n for n in found if found.count(n) > 1})
        raise ValueError(
            f"the pages ({', '.join(pages)}) mark tables {sorted(found)}, the result files give {sorted(wanted)}"
            + (f"; marked more than once: {twice}" if twice else "")
        )
    return {
        name: MARKER.sub(
            lambda m: (
                f"<!-- table:{m['name']} start -->\n{render(tables[m['name']], TABLES[m['name']])}"
                f"<!-- table:{m['name']} end -->"
            ),
            page,
        )
        for name, page in pages.items()
    }


def git_commit() -> str | None:
    """The checkout's short commit, "+modified" when tracked files differ from it (None outside git)."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)

    head = git("rev-parse", "--short", "HEAD")
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+modified" if git("status", "--porcelain", "--untracked-files=no").stdout else "")


def new_result(**fields: Any) -> dict[str, Any]:
    """A result file's fields for a run made now: today's date and commit, the rest from ``fields``;
    "alone" stays null until whoever ran it states what ran beside it."""
    row: dict[str, Any] = dict.fromkeys(SCHEMA)
    row.update(date=date.today().isoformat(), commit=git_commit(), **fields)
    return row


def combine(rows: list[dict[str, Any]], table: str, label: str) -> dict[str, Any]:
    """One row from runs of one configuration with different seeds: mean ± spread of the errors,
    the other figures per seed."""
    row = dict(rows[0], table=table, label=label, seeds=[s for r in rows for s in r["seeds"] or [None]])
    for field in ("mean_px", "p90_px"):
        values = [r[field] for r in rows if r[field] is not None]
        row[field] = statistics.fmean(values) if values else None
        row[f"{field}_spread"] = statistics.pstdev(values) if len(values) > 1 else None
    for field in ("train_images_per_s", "video_fps", "peak_mb", "alone"):
        row[field] = [r[field] for r in rows]
    for field in ("date", "commit", "protocol"):
        row[field] = ", ".join(dict.fromkeys(str(r[field]) for r in rows))
    row["command"] = list(dict.fromkeys(c for r in rows for c in commands(r)))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a page differs from the result files")
    parser.add_argument("--docs", type=Path, default=DOCS, help=f"the folder of the pages ({', '.join(PAGES)})")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--combine", type=Path, nargs="+", help="result files of one configuration, several seeds")
    parser.add_argument("--table", default="headline", help="with --combine: the table of the row")
    parser.add_argument("--label", default="default", help="with --combine: the row's label")
    args = parser.parse_args()

    if args.combine:
        print(json.dumps(combine([json.loads(p.read_text()) for p in args.combine], args.table, args.label), indent=1))
        return 0
    pages = {name: (args.docs / name).read_text() for name in PAGES}
    try:
        made = rewrite(pages, load(args.results))
    except ValueError as error:
        print(error)
        return 1
    changed = [name for name in PAGES if made[name] != pages[name]]
    if not args.check:
        for name in changed:
            (args.docs / name).write_text(made[name])
        return 0
    if not changed:
        return 0
    for name in changed:
        diff = difflib.unified_diff(
            pages[name].splitlines(), made[name].splitlines(), name, "from the result files", lineterm=""
        )
        print(f"{args.docs / name} differs from the tables made from {args.results}:", *diff, sep="\n")
    print("\nrun `python bench/report.py` to make the pages from the result files (or correct the result files)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
