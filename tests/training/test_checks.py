"""seqattn.training.checks: meaningless values stop a run before anything is written."""

import pytest
from helpers import compose_cfg

from seqattn.training.task import find_user_error
from seqattn.training.train import train


@pytest.mark.parametrize(
    "override, words",
    [
        ("data.batch_size=0", "data.batch_size must be >= 1"),
        ("data.batch_size=-1", "data.batch_size must be >= 1"),
        ("data.num_workers=-1", "data.num_workers must be >= 0"),
        ("optimizer.lr=-1", "optimizer.lr must be >= 0"),
        ("supervision.confidence_scale=0", "supervision.confidence_scale must be > 0"),
        ("monitor=val/nonsense", "monitor must be a metric the run logs"),
        ("model.glimpse_source=bogus", "model.glimpse_source must be auto, pixels or features"),
        ("model.glimpse_source=bogus model.glimpse_size=auto", "model.glimpse_source must be auto, pixels or"),
        ("input_size=abc", "input_size must be an integer"),
        ("input_size=4", "input_size must be >= 8"),
        ("seed=abc", "seed must be an integer"),
        ("data.augment.rotate=nan", "data.augment.rotate must be a finite number"),
        ("loss.threshold=inf", "loss.threshold must be a finite number"),
    ],
)
def test_meaningless_values_stop_before_anything_is_written(tmp_path, override, words):
    with pytest.raises(Exception) as raised:  # a constructor's error arrives wrapped by hydra.instantiate
        train(compose_cfg(tmp_path / "out", *override.split()))
    assert words in str(find_user_error(raised.value))  # what train.py prints, as one line
    assert not (tmp_path / "out").exists()
