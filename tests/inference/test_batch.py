"""seqattn.inference.batch: predictions of a batch of images."""

import numpy as np


def test_predictions_write_the_scaled_likelihood():
    from seqattn.inference.batch import likelihood_of

    raw = np.array([[0.2, 0.5, 0.9]])
    scaled = likelihood_of(raw, raw.shape, {"platt": {"a": 2.0, "b": -1.0}})
    # sigmoid(2 logit(p) - 1) = o / (1 + o) with o = (p / (1 - p))^2 / e: 0.0625 / e, 1 / e, 81 / e
    expected = [[0.0224757, 0.2689414, 0.9675306]]
    assert np.allclose(scaled, expected, rtol=0, atol=1e-7)
    assert np.array_equal(likelihood_of(raw, raw.shape, {"platt": None}), raw)
    assert np.array_equal(likelihood_of(None, (1, 3), None), np.ones((1, 3)))  # no confidence output
