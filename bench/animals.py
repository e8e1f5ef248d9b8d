"""Several animals: the protocol of ../shared/data/README.md on a multi-animal set, then its video.

One run of train.py (bench/accuracy.py's protocol: a wall-clock budget or a fixed amount of
training) on labels with several animals in a frame; its whole-frame test metrics
(test_metrics.json's "full_frame": matched keypoint error, instance recall and precision, OKS
mAP, identity switches over the test split); then predict.py on the set's recording with
``--animals N``: end-to-end frames/s and peak memory of that process, and the identities of the
predicted tracks scored on the test split's frames of the recording.

    python bench/animals.py --minutes 10 --data ../shared/data/two-flies --animals 2

Its result (``animals_result.json`` in the run's folder) is a row of bench/report.py's "animals"
table once "alone" is filled in and it is put in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from accuracy import run_row
from report import new_result

ROOT = Path(__file__).resolve().parents[1]
PEAK = "import resource, sys; from seqattn.inference.predict import main; main(sys.argv[1:]);"
PEAK += " print('peak_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


def video_identities(h5: Path, labels: Path, split_file: Path, split: str = "test") -> dict:
    """The predicted tracks of the recording (a multi-animal table) scored on ``split``'s frames."""
    from seqattn.data.formats.slp import SLPSource
    from seqattn.evaluation.instances import FullFrameMetrics

    table = pd.read_hdf(h5)
    individuals = list(dict.fromkeys(table.columns.get_level_values("individuals")))
    parts = list(dict.fromkeys(table.columns.get_level_values("bodyparts")))
    values = table.to_numpy().reshape(len(table), len(individuals), len(parts), 3)  # x, y, likelihood
    frames = SLPSource(str(labels), split_file=str(split_file)).frames()[split]
    metrics = FullFrameMetrics()
    for i in range(len(frames)):
        truth = frames.labels(i)
        f = int(truth.name.rsplit("#", 1)[1])
        present = np.isfinite(values[f, :, :, :2]).all(-1).any(-1)  # (N,)
        coords = values[f, present, :, :2]
        scores = np.nanmean(values[f, present, :, 2], axis=-1)
        metrics.add(coords, scores, truth.keypoints, np.flatnonzero(present), truth.tracks)
    return metrics.compute()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/two-flies"))
    parser.add_argument("--animals", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--config", default="", help="train.py overrides of the configuration")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_runs" / "animals")
    args = parser.parse_args()
    labels, split_file = args.data / "labels.slp", args.data / "splits.json"
    video = next(args.data.glob("*.mp4"))
    common = f"data=slp data.path={labels} data.split_file={split_file}"
    r = run_row(common, args.config, args.minutes, args.out)
    if "error" in r:
        sys.exit(f"training failed: {r['error']}")
    run = Path(r["run"])
    full = json.loads((run / "test_metrics.json").read_text())["full_frame"]
    best = sorted((run / "checkpoints").glob("best*.ckpt"))[-1]
    predicted = run / "video"
    cmd = [sys.executable, "-c", PEAK, str(best), str(video), "--out", str(predicted), "--animals", str(args.animals)]
    proc = subprocess.run([*cmd, "--format", "dlc", "slp"], capture_output=True, text=True, cwd=ROOT, check=True)
    peak_mb = int(proc.stdout.split("peak_kb")[-1]) / 1024
    record = json.loads((predicted / f"{video.stem}.json").read_text())
    identities = video_identities(predicted / f"{video.stem}.h5", labels, split_file)
    command = f"python bench/animals.py --minutes {args.minutes:g} --data {args.data} --animals {args.animals}"
    row = new_result(
        table="animals",
        label=args.config or "default",
        set=args.data.name,
        model=args.config or "default",
        seeds=[r["seed"]],
        mean_px=full["matched_epe_px_mean"],
        median_px=full["matched_epe_px_median"],
        p90_px=full["matched_epe_px_p90"],
        train_images_per_s=r["train_ips"] if math.isfinite(r["train_ips"]) else None,
        video_fps=record["frames_per_s"],
        peak_mb=peak_mb,
        command=command + (f" --config {args.config!r}" if args.config else ""),
        protocol=r["protocol"],
        recall=full["instance_recall"],
        precision=full["instance_precision"],
        oks_map=full["oks_map"],
        switches_test_split=full["identity_switches"],
        video_recall=identities["instance_recall"],
        video_switches=identities["identity_switches"],
        video_tracking=record["tracks"]["summary"],
        training_peak_mb=r["peak_mb"],
        run=str(run),
    )
    (run / "animals_result.json").write_text(json.dumps(row, indent=2) + "\n")
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
