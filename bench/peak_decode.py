"""Step 0's read-out of a trained checkpoint: the global soft-argmax against the soft-argmax in a
window around each heat map's highest cell (``model.peak_radius``), on val and test.

    python bench/peak_decode.py --radii 0 1 2 3 -- bench_runs/<run>/checkpoints/best-epochNNN.ckpt \\
        data=dlc data.path=../shared/data/mirror-mouse data.split_file=../shared/data/mirror-mouse/splits.json

Radius 0 is the global soft-argmax. Choose on val; test is printed beside it, read once per radius.
"""

from __future__ import annotations

import argparse

from checkpoint_data import checkpoint_and_data

PCK = (5.0,)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("overrides", nargs="*", help="train.py data overrides naming the checkpoint's data")
    parser.add_argument("--radii", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    module, datamodule, trainer = checkpoint_and_data(args.checkpoint, args.overrides)
    print(f"{args.checkpoint}")
    print(
        "| peak radius (cells) | val mean px | val p90 px | val gross | test mean px | test median px | test p90 px"
        " | test gross |\n|---|---|---|---|---|---|---|---|"
    )
    for radius in args.radii:
        module.model.peak_radius = radius
        cells = []
        for stage, run in (("val", trainer.validate), ("test", trainer.test)):
            run(module, datamodule=datamodule, verbose=False)
            s = {k: float(v) for k, v in module.last_errors[stage].summary(PCK).items()}
            keys = ("epe_px", "p90_px") if stage == "val" else ("epe_px", "median_px", "p90_px")
            cells += [f"{s[k]:.2f}" for k in keys] + [f"{100 * s['gross_miss']:.1f} %"]
        print(f"| {radius or 'global'} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
