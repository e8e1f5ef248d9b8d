"""seqattn.inference.filters: temporal filters of predicted tracks."""

import numpy as np

from seqattn.inference.filters import filter_track


def test_filters_lower_the_error_of_a_noisy_track_and_interpolate_untrusted_points():
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30.0
    truth = np.stack([100 + 40 * np.sin(t), 80 + 30 * np.cos(0.7 * t)], -1)[:, None, :]  # (N, 1, 2)
    noisy = truth + rng.normal(0, 2.0, truth.shape)
    likelihood = np.ones((300, 1))
    outliers = rng.choice(np.arange(5, 295), 15, replace=False)
    noisy[outliers] += 60  # gross misses the model itself flags as unsure
    likelihood[outliers] = 0.1

    def error(xy):
        return np.linalg.norm(xy - truth, axis=-1).mean()

    for kind in ("median", "savgol"):
        smooth = filter_track(noisy, likelihood, kind, 7, pcutoff=0.6)
        trusted = likelihood[:, 0] >= 0.6
        raw_trusted_error = np.linalg.norm(noisy[trusted] - truth[trusted], axis=-1).mean()
        assert error(smooth) < 0.7 * raw_trusted_error  # smoother than the raw track even where it was trusted
        assert np.linalg.norm(smooth[outliers] - truth[outliers], axis=-1).max() < 6  # interpolated over
