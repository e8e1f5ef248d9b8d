"""seqattn.data.formats.dlc: DeepLabCut projects (CSV and .h5 labels, machine labels, multi-animal projects,
the shared datasets)."""

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import (
    NAMES,
    all_samples,
    cell,
    edit_lines,
    epe_from_per_image,
    shared_or_skip,
    write_dlc,
    write_dlc_h5,
    write_images,
)

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


# ---------------------------------------------------------------- multi-animal projects (maDLC)

MICE = ["mouse1", "mouse2"]


def two_mice(root: Path, n: int = 6, mouse2_in: int = 4) -> list[tuple[str, dict[str, np.ndarray]]]:
    """``n`` small images under labeled-data/vid1/ with two mice each, mouse2 labelled in the first
    ``mouse2_in`` only -> [(image, {individual: (4, 2) points})]."""
    out = []
    for i, (name, _, _) in enumerate(write_images(root, n)):
        shape = np.array([[0.0, 0.0], [4.0, 2.0], [2.0, 6.0], [6.0, 8.0]])
        mice = {"mouse1": shape + [5 + i, 5], "mouse2": shape + [30, 30 - i]}
        if i >= mouse2_in:
            mice["mouse2"] = np.full((4, 2), np.nan)
        out.append((name, mice))
    return out


def write_madlc(path: Path, labels, individuals=MICE, unique: dict[str, list[str]] | None = None) -> None:
    """A maDLC CollectedData CSV: header rows scorer / individuals / bodyparts / coords, DeepLabCut
    2.2's three index columns; ``unique`` adds maDLC's individual "single" with these parts."""
    columns = [(who, part) for who in individuals for part in NAMES] + [("single", p) for p in unique or []]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        for level, values in (("scorer", ["me"] * len(columns)), ("individuals", [c[0] for c in columns])):
            w.writerow([level, "", ""] + [v for v in values for _ in (0, 1)])
        w.writerow(["bodyparts", "", ""] + [c[1] for c in columns for _ in (0, 1)])
        w.writerow(["coords", "", ""] + ["x", "y"] * len(columns))
        for image, mice in labels:
            cells = [cell(v) for who in individuals for v in mice[who].reshape(-1)] + ["7.0"] * 2 * len(unique or [])
            w.writerow(image.split("/") + cells)


def write_madlc_h5(path: Path, labels) -> None:
    """The same labels as DeepLabCut's .h5 (columns scorer / individuals / bodyparts / coords)."""
    columns = pd.MultiIndex.from_tuples(
        [("me", who, part, c) for who in MICE for part in NAMES for c in "xy"],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    index = pd.MultiIndex.from_tuples([tuple(image.split("/")) for image, _ in labels])
    values = np.stack([np.concatenate([mice[who].reshape(-1) for who in MICE]) for _, mice in labels])
    pd.DataFrame(values, index=index, columns=columns).to_hdf(path, key="df_with_missing", mode="w")


def by_split(source) -> list:
    return [split[i] for split in source.splits().values() for i in range(len(split))]


@pytest.mark.parametrize("suffix", [".csv", ".h5"])
def test_a_multi_animal_project_gives_frames_and_one_crop_per_individual(tmp_path, suffix):
    labels = two_mice(tmp_path)
    label_file = dlc_file(tmp_path).with_suffix(suffix)
    (write_madlc if suffix == ".csv" else write_madlc_h5)(label_file, labels)
    source = DLCSource(str(tmp_path))
    assert source.layout is not None and source.layout.max_animals == 2
    assert source.keypoint_names == NAMES  # the body parts, not <individual>_<part>
    frames = source.frames()
    assert sum(len(f) for f in frames.values()) == 6  # every image once, with its mice
    crops = by_split(source)
    assert len(crops) == 6 + 4  # mouse1 in every image, mouse2 in four: no entry where it has no point
    assert {c.image.shape[:2] for c in crops} == {(source.layout.crop_px,) * 2}
    tracks = [t for f in frames.values() for i in range(len(f)) for t in f.labels(i).tracks]
    assert sorted(tracks) == ["mouse1"] * 6 + ["mouse2"] * 4
    truth = {f"{image}#{who}": points for image, mice in labels for who, points in mice.items()}
    for f in frames.values():
        for i in range(len(f)):
            frame = f.labels(i)
            for points, track in zip(frame.keypoints, frame.tracks, strict=True):
                np.testing.assert_allclose(points, truth[f"{frame.name}#{track}"])
    assert {c.name for c in crops} == {k for k, v in truth.items() if np.isfinite(v).any()}


def test_unique_bodyparts_are_refused_in_one_line(tmp_path):
    labels = two_mice(tmp_path)
    write_madlc(dlc_file(tmp_path), labels, unique=["led", "corner"])
    with pytest.raises(DataError) as caught:
        DLCSource(str(tmp_path))
    message = str(caught.value)
    assert "\n" not in message
    assert "vid1/CollectedData_me.csv: unique bodyparts ['led', 'corner'] (individual 'single')" in message
    assert "remove them from the labels, or label them as body parts of an individual" in message


def test_project_files_must_agree_on_individuals(tmp_path):
    labels = two_mice(tmp_path)
    write_madlc(dlc_file(tmp_path), labels)
    other = tmp_path / "labeled-data" / "vid2" / "CollectedData_me.csv"
    other.parent.mkdir()
    renamed = [(image, {"mouse1": mice["mouse1"], "mouse3": mice["mouse2"]}) for image, mice in labels[:2]]
    write_madlc(other, renamed, individuals=["mouse1", "mouse3"])
    with pytest.raises(DataError, match=r"vid2/CollectedData_me\.csv: individuals \['mouse1', 'mouse3'\] differ"):
        DLCSource(str(tmp_path))
    write_dlc(other, [(image, None, mice["mouse1"]) for image, mice in labels[:2]])  # a single-animal file
    with pytest.raises(DataError, match=r"vid2/CollectedData_me\.csv: individuals none \(one animal\) differ"):
        DLCSource(str(tmp_path))


def test_an_anchor_missing_in_most_animals_is_one_line(tmp_path):
    labels = two_mice(tmp_path)
    for _, mice in labels[:4]:  # the snout of 8 of the 10 labelled mice is not labelled
        for points in mice.values():
            points[0] = np.nan
    write_madlc(dlc_file(tmp_path), labels)
    with pytest.raises(DataError) as caught:
        DLCSource(str(tmp_path), anchor="snout")
    assert "\n" not in str(caught.value)
    assert "the anchor part 'snout' is missing in 80% of the 10 labelled animals" in str(caught.value)


def test_a_single_animal_project_reads_as_before(project):
    root, samples = project
    source = DLCSource(str(root))
    assert source.layout is None and source.keypoint_names == NAMES
    with pytest.raises(NotImplementedError):
        source.frames()
    got = all_samples(source)
    assert sorted(got) == sorted(name for name, _, _ in samples)  # named by image, no #<individual>
    for name, _, points in samples:
        np.testing.assert_array_equal(got[name][1], points)


def test_the_outlier_loop_leaves_a_multi_animal_project_alone(tmp_path):
    from seqattn.inference.outlier_inputs import existing_labels

    write_madlc(dlc_file(tmp_path), two_mice(tmp_path))
    with pytest.raises(DataError, match=r"CollectedData_me\.csv: a multi-animal label file .* single-animal projects"):
        existing_labels(dlc_file(tmp_path).parent)
