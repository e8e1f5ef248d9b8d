"""Which checkpoint a run on a small validation split should test: the epoch with the lowest
validation value of its own (the default, Lightning's ModelCheckpoint), the epoch ending the
lowest mean of the last W values (the value the stopping rule compares), or the last epoch.

Reads run folders trained with every epoch's checkpoint kept, tests the checkpoint each rule picks
on the test split and prints one row per run, then the mean change against the single-value rule:

    python bench/accuracy.py --minutes 10 --out runs/mm40 \\
        --common "data=dlc data.path=../shared/data/mirror-mouse data.split_file=<split> \\
                  callbacks.model_checkpoint.save_top_k=-1" "seed=0"
    python bench/checkpoint_choice.py runs/mm40/* --every

W is the window the stopping rule gives the run's validation split (seqattn/training/choices.py).
Each run's test split is read once per checkpoint tested: this measures the rule; it replaces no
row of a results table. ``--every`` also prints every epoch's test mean (the curve the rules
choose from, which no rule can see).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
from checkpoint_data import checkpoint_and_data

from seqattn.inference import load_checkpoint
from seqattn.training.choices import choose_stopping_window

RULES = ("one value", "window", "last")


def picks(values: list[float], window: int) -> dict[str, int]:
    """The epoch each rule picks from one validation value per epoch (lowest; ties: the earliest)."""
    means = [float(np.mean(values[max(0, e - window + 1) : e + 1])) for e in range(len(values))]
    return {"one value": int(np.argmin(values)), "window": int(np.argmin(means)), "last": len(values) - 1}


def tested_errors(run: Path, epochs: list[int], overrides: list[str]) -> dict[int, dict[str, float]]:
    """Test errors of each epoch's checkpoint; the run's data is read once (one letterbox per run)."""
    out, data = {}, None
    for epoch in epochs:
        path = str(run / "checkpoints" / f"best-epoch{epoch:03d}.ckpt")
        if data is None:
            module, *data = checkpoint_and_data(path, overrides)
        else:
            module = load_checkpoint(path, key="checkpoint")
        datamodule, trainer = data
        trainer.test(module, datamodule=datamodule, verbose=False)
        out[epoch] = {k: float(v) for k, v in module.last_errors["test"].summary((5.0,)).items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (with run_info.json, history.csv)")
    parser.add_argument("--every", action="store_true", help="also print every epoch's test mean")
    args = parser.parse_args()
    print("| run | val images | W | epoch: one value / window / last | test mean px | test p90 px |")
    print("|---|---|---|---|---|---|", flush=True)
    changes = {rule: [] for rule in RULES[1:]}
    for run in args.runs:
        info = json.loads((run / "run_info.json").read_text())
        data = info["config"]["data"]
        overrides = ["data=dlc", f"data.path={data['path']}", f"data.split_file={data['split_file']}"]
        num_val = int(info["adaptive"]["data"]["num_val"])
        window = choose_stopping_window(num_val)[0]
        values = [float(r["val/epe_px"]) for r in csv.DictReader((run / "history.csv").open()) if r.get("val/epe_px")]
        chosen = picks(values, window)
        needed = range(len(values)) if args.every else sorted(set(chosen.values()))
        tested = tested_errors(run, list(needed), overrides)
        means = " / ".join(f"{tested[chosen[r]]['epe_px']:.2f}" for r in RULES)
        p90s = " / ".join(f"{tested[chosen[r]]['p90_px']:.2f}" for r in RULES)
        epochs = " / ".join(str(chosen[r]) for r in RULES)
        print(f"| {run.parent.name}/{run.name} | {num_val} | {window} | {epochs} | {means} | {p90s} |", flush=True)
        for rule in RULES[1:]:
            changes[rule].append(tested[chosen[rule]]["epe_px"] - tested[chosen["one value"]]["epe_px"])
        if args.every:
            curve = " ".join(f"{tested[e]['epe_px']:.2f}" for e in range(len(values)))
            print(f"  every epoch's test mean: {curve}", flush=True)
    for rule, delta in changes.items():
        d = np.array(delta)
        print(
            f"{rule} against one value: mean change {d.mean():+.2f} px over {len(d)} runs"
            f" (lower in {(d < 0).sum()}, higher in {(d > 0).sum()}; from {d.min():+.2f} to {d.max():+.2f})"
        )


if __name__ == "__main__":
    main()
