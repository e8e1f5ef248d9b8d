"""Early-stopping settings that mean nothing (seqattn/callbacks/early_stopping.py): one line naming
the key and the value, before anything is trained or written."""

import pytest
from conftest import compose_cfg

from seqattn.callbacks import EarlyStoppingReport
from seqattn.errors import ConfigError
from seqattn.training.task import find_user_error
from seqattn.training.train import train


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"patience": -1}, "callbacks.early_stopping.patience must be an integer >= 0, got -1"),
        ({"patience": 2.5}, "callbacks.early_stopping.patience must be an integer >= 0, got 2.5"),
        ({"min_delta": -0.5}, "callbacks.early_stopping.min_delta must be >= 0, got -0.5"),
        ({"window": 0}, "callbacks.early_stopping.window must be >= 1, got 0"),
        ({"min_progress": 1.5}, "callbacks.early_stopping.min_progress must be in [0, 1], got 1.5"),
    ],
)
def test_meaningless_settings_are_refused_by_name(kwargs, words):
    with pytest.raises(ConfigError) as raised:
        EarlyStoppingReport(**{"monitor": "val/epe_px", "mode": "min", **kwargs})
    assert str(raised.value) == words


def test_patience_zero_and_a_positive_min_delta_are_fine():
    stop = EarlyStoppingReport(monitor="val/epe_px", mode="min", patience=0, min_delta=0.5)
    assert stop.patience == 0


def test_a_negative_patience_stops_train_before_anything_is_written(tmp_path):
    with pytest.raises(Exception) as raised:  # a constructor's error arrives wrapped by hydra.instantiate
        train(compose_cfg(tmp_path / "out", "callbacks.early_stopping.patience=-1"))
    assert "callbacks.early_stopping.patience must be an integer >= 0, got -1" in str(find_user_error(raised.value))
    assert not (tmp_path / "out").exists()
