"""Test a checkpoint: `python eval.py ckpt_path=<file.ckpt> [data=... data.path=...]`."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

import seqattn.training.arguments
import seqattn.training.evaluate
import seqattn.training.train


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    seqattn.training.evaluate.main(cfg)


if __name__ == "__main__":
    seqattn.training.arguments.eval_argv(sys.argv[1:], Path(__file__).parent / "conf")
    main()
