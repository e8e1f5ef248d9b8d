"""The protocol of ../shared/data/README.md on the shared sets AND on synthetic proxies for kinds of
data the project cannot see, for the default model and the plain soft-argmax baseline, several
seeds each: one table of mean and spread.

Proxies (the synthetic creature, varied; 300 training images, as small labelled sets have):
- many keypoints: 68 landmarks (faces, hands, insects);
- grey crops: 96 x 96 grey crops around one animal, 13 keypoints with look-alike legs (flies);
- mixed sizes: images 0.5x-2x the default size, a third of the labels missing (reaching mice).

Checkpoints are selected on validation only; each row reads its test split once.

    python bench/generalisation.py --minutes 10 --seeds 0 1            # the whole table
    python bench/generalisation.py --minutes 10 --sets openfield --models default softargmax
"""

from __future__ import annotations

import argparse
import math
import statistics
from datetime import datetime
from pathlib import Path

from accuracy import ROOT, run_row

SHARED = "../shared/data"
PROXY = "data.source.num_train=300 data.source.num_val=60 data.source.num_test=200"
SETS = {
    "openfield": f"data=dlc data.path={SHARED}/openfield data.split_file={SHARED}/openfield/splits.json",
    "mirror-mouse": f"data=dlc data.path={SHARED}/mirror-mouse data.split_file={SHARED}/mirror-mouse/splits.json",
    "proxy-many-keypoints": f"{PROXY} data.source.num_keypoints=68",
    "proxy-grey-crops": f"{PROXY} data.source.grey=true data.source.centred=true data.source.width=96"
    " data.source.height=96 data.source.num_keypoints=13",
    "proxy-mixed-sizes-missing": f"{PROXY} data.source.size_range=[0.5,2.0] data.source.missing=0.33"
    " data.source.num_keypoints=6",
}
# the baseline: the plain soft-argmax CNN trained on the hinge loss alone (no heat-map term)
MODELS = {"default": "", "softargmax": "model=softargmax supervision.heatmap_weight=0"}
COLUMNS = [("mean", "mean px", 2), ("median", "median px", 2), ("p90", "p90 px", 2), ("gross", "gross miss %", 1)]


def spread(values: list[float], digits: int, scale: float = 1.0) -> str:
    values = [v * scale for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    return f"{mean:.{digits}f}" + (f" ± {statistics.pstdev(values):.{digits}f}" if len(values) > 1 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench_runs")
    args = parser.parse_args()

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    print(f"budget {args.minutes:g} min per run, seeds {args.seeds}; mean ± spread (population std) over seeds")
    print("| set | model | " + " | ".join(c[1] for c in COLUMNS) + " | epochs | train img/s | peak MB |")
    print("|---" * (len(COLUMNS) + 5) + "|", flush=True)
    for name in args.sets:
        for model in args.models:
            runs = []
            for seed in args.seeds:
                out = args.out / f"{stamp}-{name}-{model}-seed{seed}"
                runs.append(run_row(SETS[name], f"{MODELS[model]} seed={seed}".strip(), args.minutes, out))
            ok = [r for r in runs if "error" not in r]
            if not ok:
                print(f"| {name} | {model} | failed: {runs[0]['error']} |", flush=True)
                continue
            cells = [spread([r[key] for r in ok], d, 100 if key == "gross" else 1) for key, _, d in COLUMNS]
            epochs = "/".join(str(r["epochs"]) for r in ok)
            rate, peak = spread([r["train_ips"] for r in ok], 1), spread([r["peak_mb"] for r in ok], 0)
            failed = f" ({len(runs) - len(ok)} failed)" if len(ok) < len(runs) else ""
            print(f"| {name} | {model}{failed} | " + " | ".join(cells) + f" | {epochs} | {rate} | {peak} |", flush=True)


if __name__ == "__main__":
    main()
