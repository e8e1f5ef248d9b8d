"""Predictions in bf16 where the chip computes it natively, float32 elsewhere."""

import numpy as np
import pytest
import torch
from helpers import SOURCE

from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.errors import ConfigError
from seqattn.hardware import cpu_bf16
from seqattn.inference.batch import load_checkpoint, predict_images, ready_for_inference
from seqattn.inference.precision import choose_precision


def test_auto_follows_the_chip_and_explicit_choices_are_kept():
    native, why = cpu_bf16()
    assert why
    assert choose_precision("auto", torch.device("cpu")) == ("bf16" if native else "fp32", why)
    assert choose_precision("fp32", torch.device("cpu"))[0] == "fp32"
    assert choose_precision("bf16", torch.device("cpu"))[0] == "bf16"
    with pytest.raises(ConfigError, match="--precision must be one of auto, fp32, bf16"):
        choose_precision("fp16", torch.device("cpu"))


def test_bf16_predictions_agree_with_float32(checkpoint):
    split = SyntheticSource(**SOURCE).splits()["test"]
    images = [split[i].image for i in range(len(split))]
    out = {}
    for precision in ("fp32", "bf16"):
        module = ready_for_inference(load_checkpoint(checkpoint), "cpu", precision=precision)
        assert module.precision == precision
        out[precision] = predict_images(module, images)
    assert out["bf16"]["coords"].dtype == np.float64  # decoded in float64 whatever the model ran in
    difference = np.abs(out["bf16"]["coords"] - out["fp32"]["coords"])  # original pixels
    assert 0 < difference.max() and difference.mean() <= 0.05  # bf16 really ran, and changed little
