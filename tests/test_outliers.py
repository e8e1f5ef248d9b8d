"""The relabelling loop: outlier frames into a DeepLabCut project, machine labels refused until
reviewed, fine-tuning from a checkpoint."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import compose_cfg

from seqattn.data.formats.dlc import DLCSource
from seqattn.data.synthetic.video import render_video
from seqattn.errors import ConfigError, DataError
from seqattn.inference.cli import main as predict_main
from seqattn.inference.outliers import frame_scores, pick_frames
from seqattn.inference.outliers import main as outliers_main
from seqattn.module import KeypointModule
from seqattn.training.task import find_user_error
from seqattn.training.train import init_weights, train

NAMES = ["snout", "left_ear", "right_ear", "neck"]


@pytest.fixture(scope="module")
def predicted(tmp_path_factory):
    """A tiny model's checkpoint, a 40-frame video and its predictions."""
    root = tmp_path_factory.mktemp("loop")
    ckpt = train(compose_cfg(root / "run", "trainer.max_epochs=1", "test=false")).best_checkpoint
    video = root / "walk.mp4"
    render_video(str(video), frames=40, width=64, height=48)
    predict_main([ckpt, str(video), "--out", str(root / "pred")])
    return ckpt, video, root / "pred" / "walk.h5"


def project_with_labels(root, frames=(3, 10)):
    """A DeepLabCut project whose labeled-data/walk/ already labels ``frames`` (by a person)."""
    folder = root / "project" / "labeled-data" / "walk"
    folder.mkdir(parents=True)
    lines = ["scorer," + ",".join(["ann"] * 8), "bodyparts," + ",".join(n for n in NAMES for _ in (0, 1))]
    lines.append("coords," + ",".join(["x", "y"] * 4))
    for f in frames:
        cv2.imwrite(str(folder / f"img{f:04d}.png"), np.zeros((48, 64, 3), np.uint8))
        lines.append(f"labeled-data/walk/img{f:04d}.png," + ",".join(["10.0", "20.0"] * 4))
    (folder / "CollectedData_ann.csv").write_text("\n".join(lines) + "\n")
    return root / "project", folder


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


def test_the_default_pcutoff_is_the_one_predict_used(predicted, tmp_path):
    from seqattn.inference.outlier_inputs import predictions_pcutoff

    _, _, h5 = predicted
    written = json.loads(h5.with_suffix(".json").read_text())["pcutoff"]  # predict.py's report
    assert predictions_pcutoff(h5) == written
    assert predictions_pcutoff(tmp_path / "elsewhere.h5") == 0.6  # no report: DeepLabCut's default


def test_outlier_frames_go_to_the_project_and_wait_for_review(predicted, tmp_path):
    ckpt, video, h5 = predicted
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


def test_bad_options_and_nothing_left_are_one_line(predicted, tmp_path, capsys):
    _, video, h5 = predicted
    cases = (("bad", range(2), ["--by", "luck"], "--by must be one of"), ("full", range(40), [], "no frame left"))
    for name, labelled, args, words in cases:
        project, _ = project_with_labels(tmp_path / name, frames=labelled)  # "full": every frame labelled
        with pytest.raises(SystemExit) as stopped:
            outliers_main([str(h5), str(video), str(project), *args])
        assert stopped.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1


def test_init_from_starts_from_the_weights_of_a_checkpoint(predicted, make_cfg):
    ckpt, _, _ = predicted
    source = KeypointModule.load_from_checkpoint(ckpt)
    fresh = KeypointModule(**{k: v for k, v in source.hparams.items()})
    init_weights(fresh, ckpt)
    for (name, a), b in zip(source.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    summary = train(make_cfg(f"init_from={ckpt}", "trainer.max_epochs=1", "test=false"))
    assert summary.best_checkpoint and summary.resumed_from is None  # a new run, not a resume
    with pytest.raises(ConfigError, match="init_from: .* was trained on 4 keypoints"):
        train(make_cfg(f"init_from={ckpt}", "data.source.num_keypoints=3", "trainer.max_epochs=1"))
    assert json.dumps(summary.best_score)  # plain numbers in the summary


SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openfield"


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
