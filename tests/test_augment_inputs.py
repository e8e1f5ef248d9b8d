"""Augmentation settings that mean nothing (seqattn/data/augment.py): one line naming the key and
the value, before anything is trained or written."""

import pytest
from conftest import compose_cfg

from seqattn.data.augment import KeypointAugment
from seqattn.errors import ConfigError
from seqattn.training.task import find_user_error
from seqattn.training.train import train


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"scale": (2, 1)}, "data.augment.scale must be [min, max] with 0 < min <= max, got [2, 1]"),
        ({"scale": (0, 1)}, "data.augment.scale must be [min, max] with 0 < min <= max, got [0, 1]"),
        ({"scale": (0.8, 1.0, 1.2)}, "data.augment.scale must be [min, max] with 0 < min <= max, got [0.8, 1.0, 1.2]"),
        ({"scale": 1.2}, "data.augment.scale must be [min, max] with 0 < min <= max, got 1.2"),
        ({"translate": -0.1}, "data.augment.translate must be >= 0, got -0.1"),
        ({"hflip": 1.5}, "data.augment.hflip must be in [0, 1], got 1.5"),
        ({"blur": -0.1}, "data.augment.blur must be in [0, 1], got -0.1"),
        ({"noise": 2}, "data.augment.noise must be in [0, 1], got 2"),
        ({"brightness_contrast": -0.2}, "data.augment.brightness_contrast must be >= 0, got -0.2"),
    ],
)
def test_meaningless_settings_are_refused_by_name(kwargs, words):
    with pytest.raises(ConfigError) as raised:
        KeypointAugment(**{"rotate": 10.0, "flip_pairs": [], **kwargs})
    assert str(raised.value) == words


def test_a_fixed_scale_and_no_augmentation_are_fine():
    KeypointAugment(rotate=0.0, flip_pairs=[], scale=[1, 1], translate=0, hflip=0, brightness_contrast=0, blur=0)


def test_a_scale_range_upside_down_stops_train_before_anything_is_written(tmp_path):
    with pytest.raises(Exception) as raised:  # a constructor's error arrives wrapped by hydra.instantiate
        train(compose_cfg(tmp_path / "out", "data.augment.scale=[2,1]"))
    assert "data.augment.scale must be [min, max] with 0 < min <= max, got [2, 1]" in str(find_user_error(raised.value))
    assert not (tmp_path / "out").exists()
