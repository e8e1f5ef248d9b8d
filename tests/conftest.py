"""Fixtures shared by the test modules. Helpers that are not fixtures are in helpers.py.

Layout: the tests of ``seqattn/<pkg>/<module>.py`` are in ``tests/<pkg>/test_<module>.py`` (those of
``seqattn/<module>.py`` in ``tests/test_<module>.py``); train.py, eval.py and predict.py run as a
user runs them in ``tests/test_train.py``, ``tests/test_eval.py`` and ``tests/test_predict.py``;
``bench/<script>.py`` in ``tests/bench/test_<script>.py``. Test modules never import each other.
"""

from pathlib import Path

import numpy as np
import pytest
from helpers import (
    ANIMALS,
    FRAMES,
    TINY_RUN,
    H,
    W,
    compose_cfg,
    encode,
    write_coco,
    write_dlc,
    write_images,
    write_plain,
)

from seqattn.data.synthetic.walk import render_video
from seqattn.inference.predict import main as predict_main
from seqattn.training.summary import RunSummary
from seqattn.training.train import train


@pytest.fixture
def make_cfg(tmp_path: Path):
    """make_cfg(*overrides) -> a tiny config whose run folder is tmp_path / "run"."""
    return lambda *overrides: compose_cfg(tmp_path / "run", *overrides)


# ---------------------------------------------------------------- the session's one trained model


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> tuple[RunSummary, Path]:
    """(summary, run folder) of one tiny run (TINY + TINY_RUN: 3 epochs, validation pictures every
    epoch, tested on its best checkpoint), trained once per session for every test that needs a
    trained model or a finished run folder. Read-only: a test that changes the folder copies it."""
    out = tmp_path_factory.mktemp("tiny_run") / "run"
    return train(compose_cfg(out, *TINY_RUN)), out


@pytest.fixture(scope="session")
def trained(tiny_run) -> Path:
    """The session run's folder (read-only)."""
    return tiny_run[1]


@pytest.fixture(scope="session")
def checkpoint(tiny_run) -> str:
    """The session run's best checkpoint."""
    return tiny_run[0].best_checkpoint


@pytest.fixture(scope="session")
def animals_run(tmp_path_factory) -> tuple[RunSummary, Path]:
    """(summary, run folder) of one tiny run on frames of two animals (detector and pose model),
    trained once per session. Read-only."""
    out = tmp_path_factory.mktemp("animals_run") / "run"
    return train(compose_cfg(out, *ANIMALS)), out


# ---------------------------------------------------------------- data written once per session


@pytest.fixture
def project(tmp_path):
    """Twelve small images under labeled-data/vid1/ and their labels in every format: DeepLabCut
    (labeled-data/vid1/CollectedData_me.csv), COCO (coco.json) and plain CSV (labels.csv)."""
    samples = write_images(tmp_path)
    write_dlc(tmp_path / "labeled-data" / "vid1" / "CollectedData_me.csv", samples)
    write_coco(tmp_path / "coco.json", samples)
    write_plain(tmp_path / "labels.csv", samples)
    return tmp_path, samples


@pytest.fixture(scope="session")
def video(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """The rendered demo walk (FRAMES frames, W x H) and its true keypoints."""
    path = tmp_path_factory.mktemp("video") / "walk.mp4"
    return path, render_video(str(path), frames=FRAMES, width=W, height=H)


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> Path:
    """A folder of two rendered walks (30 and 15 frames) and a text file: unlabelled frames."""
    folder = tmp_path_factory.mktemp("videos")
    render_video(str(folder / "a.mp4"), frames=30, width=64, height=48)
    render_video(str(folder / "b.mp4"), frames=15, width=64, height=48, seed=1)
    (folder / "notes.txt").write_text("not a video")
    return folder


@pytest.fixture(scope="session")
def walk(checkpoint, tmp_path_factory) -> tuple[Path, Path]:
    """A 40-frame video (its index first, so that a copy cut short still announces 40 frames) and
    the session model's predictions of it."""
    root = tmp_path_factory.mktemp("walk")
    video = encode(root / "walk.mp4", 40, faststart=True)
    predict_main([checkpoint, str(video), "--out", str(root / "pred")])
    return video, root / "pred" / "walk.h5"
