"""seqattn.callbacks.batch_norm: the checkpoints hold the BatchNorm statistics of the sample by the
weights they store, and training is the same with or without them."""

import pandas as pd
import torch
from helpers import compose_cfg

from seqattn.callbacks.batch_norm import SEED, sample
from seqattn.checkpoint import read_checkpoint
from seqattn.data import build_datamodule
from seqattn.data.datamodule import model_inputs
from seqattn.inference import load_checkpoint
from seqattn.training.train import train

PLAIN = ["data.augment=null", "trainer.deterministic=true"]  # training images as they are: the sample is known


def test_a_checkpoint_holds_the_statistics_of_the_sample_by_its_weights(tmp_path):
    run = tmp_path / "run"
    cfg = compose_cfg(run, *PLAIN, "callbacks.batch_norm.images=8", "trainer.max_epochs=1")
    train(cfg)
    module = load_checkpoint(run / "checkpoints" / "last.ckpt").eval()
    layer = next(m for m in module.model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    inputs = []
    layer.register_forward_hook(lambda m, args, out: inputs.append(args[0].detach()))
    datamodule = build_datamodule(cfg.data, module.geometry, augment=False)
    datamodule.setup("fit")
    images = [item["image"] for item in sample(datamodule.datasets["train"], 8, SEED)]
    with torch.no_grad():
        module(model_inputs({"image": torch.stack(images)})["image"])
    seen = inputs[0].transpose(0, 1).flatten(1)  # (C, N * H * W)
    torch.testing.assert_close(layer.running_mean, seen.mean(1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(layer.running_var, seen.var(1), rtol=1e-4, atol=1e-5)
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 0


def test_training_is_the_same_with_or_without_them(tmp_path):
    histories = []
    for name, switch in (("with", []), ("without", ["callbacks.batch_norm=null"])):
        train(compose_cfg(tmp_path / name, "trainer.deterministic=true", *switch))  # augmented: random streams in use
        histories.append(pd.read_csv(tmp_path / name / "history.csv"))
    with_them, without = histories
    assert list(with_them["train/loss"]) == list(without["train/loss"])  # the same steps, bit for bit
    assert list(with_them["val/loss"]) != list(without["val/loss"])  # but other statistics in validation
