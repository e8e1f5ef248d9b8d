"""Train a keypoint model: `python train.py [overrides]`, or a sweep with `python train.py -m ...`."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

import seqattn.training.arguments
import seqattn.training.train

SCRIPT = Path(__file__).resolve()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    return seqattn.training.train.main(cfg, entry_script=SCRIPT)  # DDP re-runs this script for its other processes


if __name__ == "__main__":
    sys.argv[1:] = seqattn.training.arguments.cli_argv(sys.argv[1:], SCRIPT.parent / "conf")
    main()
