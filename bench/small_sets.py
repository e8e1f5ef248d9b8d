"""Small labelled sets: the protocol of ../shared/data/README.md on proxies built from the shared
sets, for the default model and the plain soft-argmax baseline, several seeds each.

Proxies (written to --work, outside the project; the shared data is only read):
- ``<set>-<N>``: nested subsets of N training frames (10, 20, 40) of openfield and mirror-mouse,
  drawn by one seeded permutation of the fixed training split; validation and test unchanged;
- ``openfield-time``: openfield's frames are numbered along one video: the earliest 70 % train,
  the next 10 % validate, the last 20 % test (later in time, as with a new session);
- ``large-frames``: openfield upscaled to 832 x 624, 40 training frames, a third of their labels
  removed (errors in the upscaled pixels).

Checkpoints are selected on validation only; each row reads its test split once. Besides the
errors, each row gives how much of the budget the runs used and how many stopped early.

    python bench/small_sets.py --minutes 10 --seeds 0 1                # the whole table
    python bench/small_sets.py --proxies openfield-20 large-frames --models default
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import tempfile
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from accuracy import ROOT, run_row
from generalisation import COLUMNS, MODELS, spread

SHARED = (ROOT / ".." / "shared" / "data").resolve()
SUBSETS = (10, 20, 40)
SUBSET_SEED = 0  # one permutation: the subsets are nested
LARGE_SIDE, LARGE_FRAMES, LARGE_MISSING = 832, 40, 1 / 3
PROXIES = [f"{s}-{n}" for s in ("openfield", "mirror-mouse") for n in SUBSETS] + ["openfield-time", "large-frames"]


def write_split(path: Path, train: list[str], val: list[str], test: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"train": train, "val": val, "test": test}, indent=1))
    return path


def subset(splits: dict, n: int) -> list[str]:
    order = np.random.default_rng(SUBSET_SEED).permutation(len(splits["train"]))
    return [splits["train"][i] for i in order[:n]]


def frame_number(path: str) -> int:
    return int(re.findall(r"\d+", Path(path).stem)[-1])


def large_frames(work: Path) -> Path:
    """openfield at LARGE_SIDE px wide: a DeepLabCut project in ``work`` (images, CSV, split)."""
    src = SHARED / "openfield"
    splits = json.loads((src / "splits.json").read_text())
    train = subset(splits, LARGE_FRAMES)
    (csv_path,) = src.glob("labeled-data/*/CollectedData_*.csv")
    rows = list(csv.reader(csv_path.open()))
    header, body = rows[:3], [r for r in rows[3:] if r and r[0] in set(train + splits["val"] + splits["test"])]
    rng = np.random.default_rng(SUBSET_SEED)
    scale = None
    for r in body:
        image = cv2.imread(str(src / r[0]), cv2.IMREAD_COLOR)
        scale = LARGE_SIDE / max(image.shape[:2])
        out = work / r[0]
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC))
        # pixel centres: x_new + 0.5 = scale * (x + 0.5)
        values = [f"{scale * (float(v) + 0.5) - 0.5:.3f}" if v.strip() else "" for v in r[1:]]
        if r[0] in train:
            for k in np.flatnonzero(rng.random(len(values) // 2) < LARGE_MISSING):
                values[2 * k] = values[2 * k + 1] = ""
        r[1:] = values
    target = work / csv_path.relative_to(src)
    with target.open("w", newline="") as f:
        csv.writer(f).writerows(header + body)
    return write_split(work / "splits.json", train, splits["val"], splits["test"])


def prepare(name: str, work: Path) -> str:
    """The overrides of one proxy (its files made in ``work``)."""
    if name == "large-frames":
        split = large_frames(work / name)
        return f"data=dlc data.path={work / name} data.split_file={split}"
    base = "openfield" if name.startswith("openfield") else "mirror-mouse"
    splits = json.loads((SHARED / base / "splits.json").read_text())
    if name == "openfield-time":
        frames = sorted((p for s in splits.values() for p in s), key=frame_number)
        a, b = len(splits["train"]), len(splits["train"]) + len(splits["val"])
        split = write_split(work / f"{name}.json", frames[:a], frames[a:b], frames[b:])
    else:
        split = write_split(
            work / f"{name}.json", subset(splits, int(name.rsplit("-", 1)[1])), splits["val"], splits["test"]
        )
    return f"data=dlc data.path={SHARED / base} data.split_file={split}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--proxies", nargs="+", default=PROXIES, choices=PROXIES)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench_runs")
    parser.add_argument(
        "--work", type=Path, default=None, help="where the proxies' files go (default: a temporary folder)"
    )
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"the shared data is not at {SHARED}")

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    work = args.work or Path(tempfile.mkdtemp(prefix="seqattn-proxies-"))
    print(f"budget {args.minutes:g} min per run, seeds {args.seeds}; mean ± spread (population std) over seeds")
    print("| proxy | model | " + " | ".join(c[1] for c in COLUMNS) + " | epochs | budget used | stopped early |")
    print("|---" * (len(COLUMNS) + 5) + "|", flush=True)
    for name in args.proxies:
        common = prepare(name, work)
        for model in args.models:
            runs = []
            for seed in args.seeds:
                out = args.out / f"{stamp}-{name}-{model}-seed{seed}"
                runs.append(run_row(common, f"{MODELS[model]} seed={seed}".strip(), args.minutes, out))
            ok = [r for r in runs if "error" not in r]
            if not ok:
                print(f"| {name} | {model} | failed: {runs[0]['error']} |", flush=True)
                continue
            cells = [spread([r[key] for r in ok], d, 100 if key == "gross" else 1) for key, _, d in COLUMNS]
            epochs = "/".join(f"{r['epochs']} (best {r['best_epoch']})" for r in ok)
            used = "/".join(f"{100 * r['budget_share']:.0f} %" for r in ok)
            early = sum(bool(r["stopped_early"]) for r in ok)
            failed = f" ({len(runs) - len(ok)} failed)" if len(ok) < len(runs) else ""
            print(
                f"| {name} | {model}{failed} | " + " | ".join(cells) + f" | {epochs} | {used} | {early}/{len(ok)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
