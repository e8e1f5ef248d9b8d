"""seqattn.data.formats.labels: the labelled images every format gives: the same samples from each,
labels outside their image, samples without labels, the pixel limit."""

import inspect
import logging

import numpy as np
import pytest
from helpers import CONF, NAMES, all_samples, write_plain

from seqattn.data.formats.coco import COCOSource
from seqattn.data.formats.csv_table import CSVSource
from seqattn.data.formats.dlc import DLCSource
from seqattn.data.formats.labels import LabelledSource
from seqattn.errors import DataError
from seqattn.io.images import MAX_IMAGE_PIXELS


def test_dlc_coco_and_plain_csv_give_the_same_samples(project):
    root, samples = project
    sources = [
        DLCSource(str(root)),
        DLCSource(str(root / "labeled-data" / "vid1" / "CollectedData_me.csv")),
        COCOSource(str(root / "coco.json")),
        CSVSource(str(root / "labels.csv")),
    ]
    reference = all_samples(sources[0])
    assert len(reference) == len(samples)
    for name, image, pts in samples:
        got_image, got_pts = reference[name]
        assert got_image.shape == image.shape and np.array_equal(got_pts, pts, equal_nan=True)
    for source in sources:
        assert source.keypoint_names == NAMES
        assert source.flip_pairs == [(1, 2)]
        got = all_samples(source)
        assert got.keys() == reference.keys()
        for name in got:
            assert np.array_equal(got[name][0], reference[name][0])
            assert np.array_equal(got[name][1], reference[name][1], equal_nan=True)
        # seeded fractions: the same split for every format
        assert {s: sorted(x.name for x in v.entries) for s, v in source.splits().items()} == {
            s: sorted(x.name for x in v.entries) for s, v in sources[0].splits().items()
        }


def test_keypoints_outside_the_image_are_masked_with_a_warning(project, caplog):
    root, samples = project
    name, image, pts = samples[0]
    moved = pts.copy()
    moved[0] = [image.shape[1] + 5.0, 3.0]
    samples[0] = (name, image, moved)
    write_plain(root / "labels.csv", samples)
    with caplog.at_level(logging.WARNING):
        source = CSVSource(str(root / "labels.csv"))
    assert "1 labelled keypoint(s) lie outside their image" in caplog.text
    assert np.isnan(all_samples(source)[name][1][0]).all()


def test_samples_without_any_label_are_skipped_with_a_warning(project, caplog):
    root, samples = project
    name, image, pts = samples[4]
    samples[4] = (name, image, np.full_like(pts, np.nan))
    write_plain(root / "labels.csv", samples)
    with caplog.at_level(logging.WARNING):
        source = CSVSource(str(root / "labels.csv"))
    assert f"skipping 1 sample(s) with no labelled keypoint: {name}" in caplog.text
    assert name not in all_samples(source)


def test_pixel_limit_is_a_setting_that_reaches_every_read(project):
    root, samples = project
    with pytest.raises(DataError, match=r"declares \d+x\d+ = \d+ pixels, above the limit of 100 "):
        DLCSource(str(root), max_image_pixels=100)
    source = DLCSource(str(root), max_image_pixels=81 * 53)  # the largest image passes
    train = source.splits()["train"]
    train.max_pixels = 100  # what LabelledImages reads each image with
    with pytest.raises(DataError, match=r"above the limit of 100 "):
        train[0]


@pytest.mark.parametrize("fmt", ["dlc", "csv", "coco"])
def test_new_settings_default_like_the_code(fmt):
    from omegaconf import OmegaConf

    source = OmegaConf.merge(
        OmegaConf.load(CONF / "data" / "_labelled.yaml"), OmegaConf.load(CONF / "data" / f"{fmt}.yaml")
    ).source
    parameters = inspect.signature({"dlc": DLCSource, "csv": CSVSource, "coco": COCOSource}[fmt]).parameters
    common = inspect.signature(LabelledSource._build).parameters
    assert source.allow_outside_root == parameters["allow_outside_root"].default
    assert source.max_image_pixels == common["max_image_pixels"].default
    assert source.max_image_pixels == MAX_IMAGE_PIXELS
