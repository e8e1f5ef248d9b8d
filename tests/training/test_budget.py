"""A fixed amount of training (``train_images``): the same steps on any machine, the same test
error twice with the same seed, another with another seed (docs/protocol.md)."""

import pytest
import torch
from helpers import compose_cfg, read_csv

from seqattn.errors import ConfigError
from seqattn.training.budget import resolve_train_images
from seqattn.training.train import train

# TINY: 24 training images in batches of 8, 3 steps an epoch; 60 images -> 8 steps (64 images),
# two whole epochs and 2 steps of a third. DataLoader workers on: their seeding is part of it.
# The last weights are tested: every step, the partial epoch's included, reaches the test metrics.
FIXED = ["train_images=60", "data.num_workers=2", "test_ckpt=last"]


def test_train_images_become_steps_before_anything_is_built(make_cfg):
    cfg, chosen = resolve_train_images(make_cfg(*FIXED))
    assert (cfg.trainer.max_steps, cfg.trainer.max_epochs) == (8, -1)
    assert chosen["trainer.max_steps"]["value"] == 8 and "64" in chosen["trainer.max_steps"]["reason"]
    # images per step: batch x accumulated batches x processes
    two = make_cfg("train_images=60", "+trainer.accumulate_grad_batches=2", "trainer.devices=2")
    cfg, _ = resolve_train_images(two)
    assert cfg.trainer.max_steps == 2
    unchanged = make_cfg()
    assert resolve_train_images(unchanged) == (unchanged, {})


@pytest.mark.parametrize(
    "overrides",
    [
        ["train_images=0"],
        ["train_images=1.5"],
        ["train_images=60", "+trainer.max_time=00:00:10:00"],
        ["train_images=60", "+trainer.max_steps=5"],
        ["train_images=60", "trainer.devices=auto"],
    ],
)
def test_train_images_refuses_a_second_budget_or_an_unknown_step(make_cfg, overrides):
    with pytest.raises(ConfigError):
        resolve_train_images(make_cfg(*overrides))


def test_fixed_work_repeats_with_its_seed_and_not_with_another(tmp_path):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("other", 1)):
        runs[name] = train(compose_cfg(tmp_path / name, *FIXED, f"seed={seed}"))
    a, b, other = (runs[n] for n in ("a", "b", "other"))
    assert a.stop_reason == "reached trainer.max_steps=8"
    validated = [r["epoch"] for r in read_csv(tmp_path / "a" / "history.csv") if r["val/epe_px"]]
    assert validated == ["0", "1", "2"]  # the partial third epoch too (ValidateLastStep)
    last = torch.load(a.last_checkpoint, weights_only=False)
    assert last["global_step"] == 8  # images trained = 8 steps x 8, the partial third epoch included
    # the learning-rate schedule spans the fixed budget: at its final rate after the last step
    assert last["lr_schedulers"][0]["_last_lr"][0] == pytest.approx(1e-3 * 0.01)

    assert a.test_metrics and a.test_metrics.keys() == b.test_metrics.keys()
    for key, value in a.test_metrics.items():
        assert b.test_metrics[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
    assert other.test_metrics["test/epe_px"] != pytest.approx(a.test_metrics["test/epe_px"], rel=1e-6, abs=1e-6)
