"""seqattn.inference.outliers: outlier frames into a DeepLabCut project, machine labels refused until
reviewed, the relabelling loop."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import NAMES, ROOT, project_with_labels, read_table, refused

from seqattn.data.formats.dlc import DLCSource
from seqattn.errors import DataError
from seqattn.inference.outliers import frame_scores, pick_frames
from seqattn.inference.outliers import main as outliers_main
from seqattn.inference.predict import main as predict_main
from seqattn.training.task import find_user_error
from seqattn.training.train import train


def test_scores_and_spread_picks():
    coords = np.zeros((10, 2, 2))
    coords[6, 1] = [50, 0]  # a jump at frame 6 (and back at 7)
    likelihood = np.ones((10, 2))
    likelihood[2] = 0.1
    assert np.argmax(frame_scores(coords, likelihood, "likelihood", 100.0)) == 2
    assert np.argmax(frame_scores(coords, likelihood, "jump", 100.0)) in (6, 7)
    scores = np.arange(10.0)
    assert pick_frames(scores, 3, min_gap=3) == [3, 6, 9]  # best first, never two within 3 frames
    assert pick_frames(scores, 3, min_gap=1, skip={9, 8}) == [5, 6, 7]


def test_outlier_frames_go_to_the_project_and_wait_for_review(walk, tmp_path):
    video, h5 = walk
    project, folder = project_with_labels(tmp_path)
    args = ["--n", "5", "--by", "both", "--min-gap", "2", "--pcutoff", "0"]  # a tiny model is never sure
    done = outliers_main([str(h5), str(video), str(project), *args])
    assert len(done["added"]) == 5 and not set(done["added"]) & {"labeled-data/walk/img0003.png"}
    for image in done["added"]:
        assert cv2.imread(str(project / image)).shape == (48, 64, 3)
    source = DLCSource(str(project), accept_machine_labels=True)  # 2 by a person + 5 by the machine
    assert sum(len(s) for s in source.splits().values()) == 7 and source.keypoint_names == NAMES
    with pytest.raises(DataError, match=r"machine_labels.json: 5 frame\(s\) still hold unreviewed machine labels"):
        DLCSource(str(project))
    # a person corrects the five frames in DeepLabCut's GUI: the coordinates change, training takes them
    csv_path = folder / "CollectedData_ann.csv"
    lines = csv_path.read_text().splitlines()
    lines[3 + 2 :] = [line.split(",")[0] + "," + ",".join(["30.0", "25.0"] * 4) for line in lines[5:]]
    csv_path.write_text("\n".join(lines) + "\n")
    assert sum(len(s) for s in DLCSource(str(project)).splits().values()) == 7
    # a second round never overwrites: the frames labelled now are skipped and reported
    again = outliers_main([str(h5), str(video), str(project), "--n", "3", "--min-gap", "2"])
    assert set(done["added"]) <= set(again["skipped_already_labelled"]) and not set(again["added"]) & set(done["added"])


def test_bad_options_and_nothing_left_are_one_line(walk, tmp_path, capsys):
    video, h5 = walk
    cases = (("bad", range(2), ["--by", "luck"], "--by must be one of"), ("full", range(40), [], "no frame left"))
    for name, labelled, args, words in cases:
        project, _ = project_with_labels(tmp_path / name, frames=labelled)  # "full": every frame labelled
        with pytest.raises(SystemExit) as stopped:
            outliers_main([str(h5), str(video), str(project), *args])
        assert stopped.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (["--pcutoff", "nan"], ["--pcutoff", "nan"]),
        (["--pcutoff", "1.5"], ["--pcutoff", "1.5"]),
        (["--min-gap", "0"], ["--min-gap", "0"]),
    ],
)
def test_outlier_options_out_of_range_are_one_line(walk, tmp_path, capsys, option, words):
    video, h5 = walk
    project, _ = project_with_labels(tmp_path)
    refused(capsys, [h5, video, project, *option], project, *words)


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ("{not json", ["machine_labels.json", "not a machine-labels record"]),
        ('["labeled-data/walk/img0001.png"]', ["machine_labels.json", "expected an object"]),
        ('{"labeled-data/walk/img0001.png": [[1, 2]]}', ["machine_labels.json", "4 [x, y] points"]),
    ],
    ids=["not-json", "a-list", "wrong-points"],
)
def test_a_corrupt_machine_label_record_is_one_line_and_nothing_is_written(walk, tmp_path, capsys, record, words):
    video, h5 = walk
    project, folder = project_with_labels(tmp_path)
    (folder / "machine_labels.json").write_text(record)
    refused(capsys, [h5, video, project, "--n", "3", "--min-gap", "1"], project, *words)


def test_rows_are_added_only_for_frames_extracted(checkpoint, walk, tmp_path):
    video, h5 = walk
    short = tmp_path / "cut" / "walk.mp4"
    short.parent.mkdir()
    short.write_bytes(video.read_bytes()[: video.stat().st_size // 2])  # still announces 40 frames
    predict_main([checkpoint, str(short), "--out", str(tmp_path / "pred")])  # NaN rows at the end
    nan_rows = np.flatnonzero(np.isnan(read_table(tmp_path / "pred" / "walk.csv").to_numpy()).all(axis=1))
    assert nan_rows.size > 0
    for name, predictions, n in (("full", h5, 40), ("cut", tmp_path / "pred" / "walk.h5", 10)):
        project, folder = project_with_labels(tmp_path / name)
        done = outliers_main([str(predictions), str(short), str(project), "--n", str(n), "--min-gap", "1"])
        assert done["added"] and all((project / image).is_file() for image in done["added"])
        rows = [line.split(",")[0] for line in (folder / "CollectedData_ann.csv").read_text().splitlines()[3:]]
        assert rows[2:] == done["added"]  # after the two a person labelled
        assert sorted(json.loads((folder / "machine_labels.json").read_text())) == done["added"]
        picked = {int(Path(image).stem.removeprefix("img")) for image in done["added"]}
        assert not picked & set(nan_rows.tolist())  # frames that never decoded are never picked
        if name == "full":  # the predictions hold frames the cut video lacks: reported, not added
            assert done["not_extracted"]


SHARED = ROOT.parent / "shared" / "data" / "openfield"


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "videos" / "m3v1mp4.mp4").is_file(), reason="shared openfield data absent")
def test_the_loop_on_openfield_and_its_recording(tmp_path, make_cfg):
    """predict the shared video -> outlier frames into a copy of the project -> 'relabel' -> retrain."""
    project = tmp_path / "openfield"
    shutil.copytree(SHARED / "labeled-data", project / "labeled-data")
    data = ["data=dlc", f"data.path={project}", "data.num_workers=0", "data.batch_size=8", "input_size=32"]
    small = ["model.channels=[8,8,16]", "model.width=16", "model.heads=2", "trainer.max_epochs=1", "test=false"]
    first = train(make_cfg(*data, *small))
    video = SHARED / "videos" / "m3v1mp4.mp4"
    predict_main([first.best_checkpoint, str(video), "--out", str(tmp_path / "pred"), "--batch-size", "64"])
    args = ["--n", "4", "--pcutoff", "0", "--scorer", "Pranav"]
    done = outliers_main([str(tmp_path / "pred" / "m3v1mp4.h5"), str(video), str(project), *args])
    folder = project / "labeled-data" / "m3v1mp4"
    assert len(done["added"]) == 4 and len(list(folder.glob("img*.png"))) == 4
    with pytest.raises(Exception) as refused:  # hydra.instantiate wraps the reader's DataError
        train(make_cfg(*data, *small))
    assert "unreviewed machine labels" in str(find_user_error(refused.value))
    # "relabel": move every machine label by a pixel, as a person correcting them would
    csv_path = folder / "CollectedData_Pranav.csv"
    lines = csv_path.read_text().splitlines()
    moved = [",".join([c.split(",")[0]] + [f"{float(v) + 1:.2f}" for v in c.split(",")[1:]]) for c in lines[3:]]
    csv_path.write_text("\n".join(lines[:3] + moved) + "\n")
    second = train(make_cfg(*data, *small, f"init_from={first.best_checkpoint}"))
    assert second.best_checkpoint and second.best_score is not None
