"""Model settings that mean nothing (seqattn/models/sequential.py): one line naming the key and the
value, before anything is trained or written."""

import pytest
from conftest import compose_cfg

from seqattn.errors import ConfigError
from seqattn.models import SequentialAttentionModel
from seqattn.training.task import find_user_error
from seqattn.training.train import train

TINY_MODEL = {"num_keypoints": 2, "channels": (8, 8, 16), "width": 16, "heads": 2, "glimpse_size": 8}


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"steps": -1}, "model.steps must be an integer >= 0, got -1"),
        ({"glimpse_shrink": 0}, "model.glimpse_shrink must be in (0, 1], got 0"),
        ({"glimpse_shrink": 1.5}, "model.glimpse_shrink must be in (0, 1], got 1.5"),
        ({"glimpse_extent": -0.1}, "model.glimpse_extent must be > 0, got -0.1"),
        ({"glimpse_size": 1}, "model.glimpse_size must be >= 2 (a glimpse of (size/2)^2 cells), got 1"),
        ({"width": 15}, "model.width must be divisible by model.heads, got width 15, heads 2"),
    ],
)
def test_meaningless_settings_are_refused_by_name(kwargs, words):
    with pytest.raises(ConfigError) as raised:
        SequentialAttentionModel(**{**TINY_MODEL, **kwargs})
    assert str(raised.value) == words


def test_no_steps_and_no_shrink_are_fine():
    assert SequentialAttentionModel(**TINY_MODEL, steps=0).steps == 0
    assert SequentialAttentionModel(**TINY_MODEL, glimpse_shrink=1).glimpse_shrink == 1


def test_negative_steps_stop_train_before_anything_is_written(tmp_path):
    with pytest.raises(Exception) as raised:  # a constructor's error arrives wrapped by hydra.instantiate
        train(compose_cfg(tmp_path / "out", "model.steps=-1"))
    assert "model.steps must be an integer >= 0, got -1" in str(find_user_error(raised.value))
    assert not (tmp_path / "out").exists()
