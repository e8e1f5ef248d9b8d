"""Train a keypoint model: `python train.py [overrides]`, or a sweep with `python train.py -m ...`."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

import seqattn.train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    return seqattn.train.main(cfg)


if __name__ == "__main__":
    seqattn.train.check_group_choices(sys.argv[1:], Path(__file__).parent / "conf")
    main()
