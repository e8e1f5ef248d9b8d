"""The likelihood of a checkpoint, raw and Platt-scaled: fitted on its val predictions, measured on
test (AUROC, expected calibration error, the pcutoff and what it keeps). Works for checkpoints
saved before the scaling existed, since it refits from val.

    python bench/calibration.py bench_runs/<run>/checkpoints/best-epochNNN.ckpt \\
        data=dlc data.path=../shared/data/openfield data.split_file=../shared/data/openfield/splits.json
"""

from __future__ import annotations

import sys

from checkpoint_data import checkpoint_and_data

from seqattn.evaluation.calibration import calibrate, calibration_table, choose_pcutoff, fit_calibration


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit(__doc__)
    module, datamodule, trainer = checkpoint_and_data(argv[0], argv[1:])
    trainer.validate(module, datamodule=datamodule, verbose=False)
    fitted = fit_calibration(module.last_errors["val"])
    trainer.test(module, datamodule=datamodule, verbose=False)
    test = module.last_errors["test"]
    print(f"{argv[0]}: Platt scaling {fitted['platt']} ({fitted['platt_reason']})")
    print(
        "| likelihood | test points | AUROC | ECE | lowest decile: likelihood, share within 5 px | highest decile |"
        " pcutoff | kept above it | within 5 px of those |\n|---|---|---|---|---|---|---|---|---|"
    )
    for name, calibration in (("raw", None), ("Platt-scaled on val", fitted)):
        table = calibration_table(test, calibration=calibration)
        lo, hi = table["deciles"][0], table["deciles"][-1]
        cutoff = fitted["pcutoff"] if calibration else choose_pcutoff(module.last_errors["val"])["pcutoff"]
        like = calibrate(test.confidence[test.visible].double().numpy(), calibration)
        good = test.distances()[test.visible].double().numpy() <= table["good_px"]
        kept = like >= cutoff
        print(
            f"| {name} | {table['points']} | {table['auroc']:.3f} | {table['expected_calibration_error']:.3f} |"
            f" {lo['likelihood_mean']:.2f}, {lo['good_share']:.0%} |"
            f" {hi['likelihood_mean']:.2f}, {hi['good_share']:.0%} |"
            f" {cutoff:.3f} | {kept.mean():.0%} | {good[kept].mean() if kept.any() else float('nan'):.0%} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
