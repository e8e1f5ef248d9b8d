"""The relabelling loop, simulated on a labelled set: does picking frames by likelihood beat picking
them at random?

Part of the training split is held back as the "unlabelled pool". Round 0 trains on the rest;
its model predicts the pool; ``--n`` pool images are "labelled" (their true labels added) either
where the likelihood is lowest or at random; round 1 fine-tunes round 0 (``init_from``) on the
grown training set; the fixed test split is read once per round-1 run.

    python bench/relabel_loop.py --dataset ../shared/data/openfield --initial 30 --n 15 \\
        --minutes 5 --minutes-round1 3 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import datetime
from pathlib import Path

import numpy as np
from accuracy import ROOT, run_row


def pool_likelihood(checkpoint: str, root: Path, images: list[str]) -> np.ndarray:
    """Mean likelihood over the keypoints of each pool image, from round 0's model."""
    from seqattn.evaluation.calibration import calibrate
    from seqattn.inference.batch import load_checkpoint, predict_images
    from seqattn.io.images import read_image

    module = load_checkpoint(checkpoint).eval()
    out = []
    for start in range(0, len(images), 16):
        batch = [read_image(root / name) for name in images[start : start + 16]]
        # the likelihood predict.py writes (calibrated by the checkpoint), as seqattn.inference.outliers ranks it
        out.append(calibrate(predict_images(module, batch)["confidence"], module.calibration).mean(axis=1))
    return np.concatenate(out)


def write_split(path: Path, train: list[str], splits: dict[str, list[str]]) -> Path:
    path.write_text(json.dumps({"train": train, "val": splits["val"], "test": splits["test"]}))
    return path


def mean_of(rows: list[dict], key: str, scale: float = 1.0) -> str:
    return f"{statistics.fmean(r[key] * scale for r in rows):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "data" / "openfield")
    parser.add_argument("--initial", type=int, default=30, help="training images of round 0")
    parser.add_argument("--n", type=int, default=15, help="pool images labelled for round 1")
    parser.add_argument("--minutes", type=float, default=5.0, help="round 0 budget")
    parser.add_argument("--minutes-round1", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench_runs")
    args = parser.parse_args()

    splits = json.loads((args.dataset / "splits.json").read_text())
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    common = f"data=dlc data.path={args.dataset}"
    results: dict[str, list[dict]] = {"likelihood": [], "random": []}
    print(
        f"{args.dataset.name}: {args.initial} initial training images, +{args.n} from the pool of the other "
        f"{len(splits['train']) - args.initial}; round 0 {args.minutes:g} min, round 1 {args.minutes_round1:g} min"
    )
    for seed in args.seeds:
        order = np.random.default_rng(seed).permutation(len(splits["train"]))
        train = [splits["train"][i] for i in order[: args.initial]]
        pool = [splits["train"][i] for i in order[args.initial :]]
        base = args.out / f"{stamp}-seed{seed}"
        base.mkdir(parents=True, exist_ok=True)

        r0 = run_row(
            common,
            f"data.split_file={write_split(base / 'round0.json', train, splits)} seed={seed}",
            args.minutes,
            base / "round0",
        )
        if "error" in r0:
            print(f"seed {seed}: round 0 failed: {r0['error']}")
            continue
        ckpt = json.loads((Path(r0["run"]) / "summary.json").read_text())["best_checkpoint"]
        likelihood = pool_likelihood(ckpt, args.dataset, pool)
        picks = {
            "likelihood": [pool[i] for i in np.argsort(likelihood, kind="stable")[: args.n]],
            "random": [pool[i] for i in np.random.default_rng(100 + seed).permutation(len(pool))[: args.n]],
        }
        lo, hi = likelihood.min(), likelihood.max()
        print(f"seed {seed}: round 0 test {r0['mean']:.2f} px; pool likelihood {lo:.2f}-{hi:.2f}")
        for strategy, extra in picks.items():
            grown = write_split(base / f"{strategy}.json", train + extra, splits)
            config = f"data.split_file={grown} init_from={ckpt} seed={seed}"
            r1 = run_row(common, config, args.minutes_round1, base / strategy)
            if "error" in r1:
                print(f"seed {seed}: {strategy} failed: {r1['error']}")
                continue
            results[strategy].append(r1)
            print(
                f"seed {seed}: {strategy:<10} round 1 test {r1['mean']:.2f} px (median {r1['median']:.2f})", flush=True
            )

    print(
        "\n| picked by | runs | test mean px | test median px | test p90 px | gross miss |\n|---|---|---|---|---|---|"
    )
    for strategy, rows in results.items():
        if rows:
            print(
                f"| {strategy} | {len(rows)} | {mean_of(rows, 'mean')} | {mean_of(rows, 'median')} "
                f"| {mean_of(rows, 'p90')} | {mean_of(rows, 'gross', 100)} % |"
            )


if __name__ == "__main__":
    main()
