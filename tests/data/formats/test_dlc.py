"""seqattn.data.formats.dlc: DeepLabCut projects (CSV and .h5 labels, machine labels, the shared datasets)."""

from pathlib import Path

import numpy as np
import pytest
from helpers import NAMES, all_samples, edit_lines, epe_from_per_image, shared_or_skip, write_dlc, write_dlc_h5

from seqattn.data.formats.dlc import DLCSource
from seqattn.errors import DataError
from seqattn.training.train import train


@pytest.mark.parametrize("split_index", [True, False], ids=["dlc2.2-index", "string-index"])
def test_project_with_only_h5_labels_reads_like_its_csv(project, split_index):
    root, samples = project
    csv_file = root / "labeled-data" / "vid1" / "CollectedData_me.csv"
    from_csv = all_samples(DLCSource(str(root)))
    write_dlc_h5(csv_file.with_suffix(".h5"), samples, split_index)
    csv_file.unlink()
    for source in (DLCSource(str(root)), DLCSource(str(csv_file.with_suffix(".h5")))):
        got = all_samples(source)
        assert source.keypoint_names == NAMES and got.keys() == from_csv.keys()
        for name in got:
            assert np.array_equal(got[name][0], from_csv[name][0])
            assert np.array_equal(got[name][1], from_csv[name][1], equal_nan=True)


def test_h5_that_is_no_label_table_is_one_line(tmp_path):
    bad = tmp_path / "CollectedData_me.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(DataError, match=r"CollectedData_me.h5: not a DeepLabCut label file with key 'df_with_missing'"):
        DLCSource(str(bad))


def test_h5_only_project_trains(project, make_cfg):
    root, samples = project
    csv_file = root / "labeled-data" / "vid1" / "CollectedData_me.csv"
    write_dlc_h5(csv_file.with_suffix(".h5"), samples)
    csv_file.unlink()
    cfg = make_cfg("data=dlc", f"data.path={root}", "trainer.max_epochs=1", "data.num_workers=0")
    summary = train(cfg)
    # the labels read from the .h5 are the ones the test errors are measured against, point by point
    assert summary.test_metrics["test/epe_px"] == pytest.approx(epe_from_per_image(Path(cfg.paths.output_dir)))


def dlc_file(root: Path) -> Path:
    return root / "labeled-data" / "vid1" / "CollectedData_me.csv"


def test_row_with_wrong_number_of_columns(project):
    root, _ = project
    edit_lines(dlc_file(root), lambda ls: ls.__setitem__(5, ls[5] + ",1.0"))
    with pytest.raises(DataError, match=r"CollectedData_me\.csv: row 6 has 10 columns, the header has 9"):
        DLCSource(str(root))


def test_missing_header_row(project):
    root, _ = project
    edit_lines(dlc_file(root), lambda ls: ls.pop(2))
    with pytest.raises(DataError, match=r"CollectedData_me\.csv: header row 'coords' missing"):
        DLCSource(str(root))


def test_merged_csvs_with_different_keypoint_names(project):
    root, samples = project
    (root / "labeled-data" / "vid2").mkdir()
    write_dlc(root / "labeled-data" / "vid2" / "CollectedData_me.csv", samples[:2], names=["a", "b", "c", "d"])
    with pytest.raises(DataError, match=r"vid2/CollectedData_me\.csv: keypoint names \['a', 'b', 'c', 'd'\] differ"):
        DLCSource(str(root))


def test_label_file_name_that_is_a_folder_is_one_line(project):
    root, _ = project
    folder = root / "labeled-data" / "vid2" / "CollectedData_me.csv"
    folder.mkdir(parents=True)
    with pytest.raises(DataError, match=r"vid2/CollectedData_me\.csv: a folder"):
        DLCSource(str(root))


@pytest.mark.parametrize("record", ['{"x": "not points"}', "[1, 2]", "{not json"])
def test_a_corrupt_machine_label_record_stops_training_in_one_line(project, record):
    root, _ = project
    (root / "labeled-data" / "vid1" / "machine_labels.json").write_text(record)
    with pytest.raises(DataError, match=r"machine_labels.json: .*(fix or remove)"):
        DLCSource(str(root))


@pytest.mark.parametrize(
    "name, keypoints, sizes, image_shape",
    [("openfield", 4, (81, 12, 23), (480, 640, 3)), ("mirror-mouse", 17, (63, 9, 18), (406, 396, 3))],
)
def test_shared_datasets_load_with_their_fixed_splits(name, keypoints, sizes, image_shape):
    path = shared_or_skip(name)
    source = DLCSource(str(path), split_file=str(path / "splits.json"))
    assert len(source.keypoint_names) == keypoints
    assert tuple(len(source.splits()[s]) for s in ("train", "val", "test")) == sizes
    sample = source.splits()["test"][0]
    assert sample.image.shape == image_shape
    assert np.isfinite(sample.keypoints).any()
