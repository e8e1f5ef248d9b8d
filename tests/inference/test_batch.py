"""seqattn.inference.batch: predictions of a batch of images."""

import numpy as np
import torch
from helpers import SOURCE

from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.inference.batch import load_checkpoint, predict_images, ready_for_inference


def test_predictions_write_the_scaled_likelihood():
    from seqattn.inference.batch import likelihood_of

    raw = np.array([[0.2, 0.5, 0.9]])
    scaled = likelihood_of(raw, raw.shape, {"platt": {"a": 2.0, "b": -1.0}})
    # sigmoid(2 logit(p) - 1) = o / (1 + o) with o = (p / (1 - p))^2 / e: 0.0625 / e, 1 / e, 81 / e
    expected = [[0.0224757, 0.2689414, 0.9675306]]
    assert np.allclose(scaled, expected, rtol=0, atol=1e-7)
    assert np.array_equal(likelihood_of(raw, raw.shape, {"platt": None}), raw)
    assert np.array_equal(likelihood_of(None, (1, 3), None), np.ones((1, 3)))  # no confidence output


def test_inference_folds_batch_norms_unless_the_module_is_trained_again(checkpoint):
    split = SyntheticSource(**SOURCE).splits()["test"]
    images = [split[i].image for i in range(len(split))]
    kept = ready_for_inference(load_checkpoint(checkpoint), "cpu", precision="fp32", fold=False)
    folded = ready_for_inference(load_checkpoint(checkpoint), "cpu", precision="fp32")
    norms = [sum(isinstance(m, torch.nn.BatchNorm2d) for m in module.modules()) for module in (kept, folded)]
    assert norms[0] > norms[1] >= 0
    difference = np.abs(predict_images(folded, images)["coords"] - predict_images(kept, images)["coords"])
    assert difference.max() < 1e-3  # original pixels: the same predictions up to float rounding
