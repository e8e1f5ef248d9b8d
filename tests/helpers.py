"""What the tests share that is not a fixture (the fixtures are in conftest.py): the tiny config,
train.py in a subprocess, callbacks that interrupt a run, and writers of label files, videos and
hostile files. Importable from every test module (``pythonpath`` in pyproject.toml):
``from helpers import TINY, compose_cfg``.

A helper lives here once two or more test modules use it; one used by a single module stays there.
"""

from __future__ import annotations

import csv
import json
import math
import os
import pathlib
import resource
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from seqattn.data.synthetic.creature import render_creature
from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.data.synthetic.walk import walking_poses
from seqattn.inference.outliers import main as outliers_main
from seqattn.inference.tables import H5_KEY
from seqattn.training.data_stats import DataStats
from seqattn.training.summary import RunSummary

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CONF = ROOT / "conf"
SHARED = ROOT.parent / "shared" / "data"  # the real datasets, beside the project

# ---------------------------------------------------------------- the tiny config

# A run that takes seconds on 2 CPU cores: tiny images, tiny model, few samples.
TINY = [
    "input_size=32",
    "data.source.num_train=24",
    "data.source.num_val=8",
    "data.source.num_test=8",
    "data.source.width=40",
    "data.source.height=32",
    "data.source.num_keypoints=4",
    "data.batch_size=8",
    "data.num_workers=0",
    "data.epoch_size=0",
    "model.channels=[8,8,16]",
    "model.width=16",
    "model.heads=2",
    "model.glimpse_size=8",
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
    "trainer.precision=32-true",  # tiny models: float32 whatever the chip (test_precision trains the auto choice)
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "logger=csv",
]

# The session's one trained model (conftest's ``tiny_run``): TINY for three epochs, a validation
# picture each epoch, deterministic (the resume tests compare a resumed run with it exactly).
TINY_RUN = ["trainer.max_epochs=3", "callbacks.error_overlays.every_n_epochs=1", "trainer.deterministic=true"]

# Several animals: two synthetic creatures a frame, ten keypoints, frames of 96 x 72.
ANIMALS = [
    "data.source.animals=2",
    "data.source.num_keypoints=10",
    "data.source.width=96",
    "data.source.height=72",
    "data.source.num_train=16",
    "detector.channels=[8,8,16]",
    "detector.width=8",
    "trainer.max_epochs=2",
]


# The tiny data and trainer settings, for eval (which takes input_size from the checkpoint).
EVAL_TINY = [o for o in TINY if o.startswith(("data.", "trainer.", "logger=")) and "max_epochs" not in o]
SOURCE = {"num_test": 8, "width": 40, "height": 32, "num_keypoints": 4}  # as in TINY


def _groups_replaced(override: str) -> set[str]:
    """The config groups an override replaces: ``model=x`` -> model; ``+experiment=x`` -> those its
    defaults list overrides (``override /model: null``)."""
    key, _, value = override.partition("=")
    if key == "+experiment":
        defaults = yaml.safe_load((CONF / "experiment" / f"{value}.yaml").read_text()).get("defaults", [])
        return {k.split("/")[-1] for d in defaults if isinstance(d, dict) for k in d if k.startswith("override")}
    return {key} if "." not in key and not key.startswith("+") else set()


def tiny(*overrides: str) -> list[str]:
    """TINY + overrides; choosing another config group (model=..., data=..., or an experiment that
    replaces one) drops TINY's keys for it."""
    swapped = set().union(*(_groups_replaced(o) for o in overrides if "=" in o))
    return [o for o in TINY if o.split(".", 1)[0] not in swapped] + list(overrides)


def compose_cfg(output_dir: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=tiny(f"paths.output_dir={output_dir}", *overrides))


def eval_cfg(output_dir: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("eval", overrides=[*EVAL_TINY, f"paths.output_dir={output_dir}", *overrides])


def outcome(summary: RunSummary) -> tuple:
    return summary.best_score, summary.best_epoch, summary.last_epoch, summary.test_metrics


def stats(long_side: float, span: float, k: int = 4, **fields) -> DataStats:
    """What the adaptive defaults read of a training set: 100 images of ``long_side`` px, objects
    spanning ``span`` px, ``k`` keypoints, a fixed view (pose alignment 0.9, position unknown);
    ``fields``: any other DataStats field (``position_spread``, ``layout``, ...)."""
    base = {"num_train": 100, "num_keypoints": k, "long_side_px": long_side, "object_span_px": span}
    return DataStats(**{**base, "pose_alignment": 0.9, **fields})


# The label-free terms on, over 12 frame pairs (data.unlabelled: a folder of videos).
ON = [
    "supervision.unlabelled.consistency_weight=1.0",
    "supervision.unlabelled.temporal_weight=1.0",
    "data.unlabelled_frames=12",
    "data.unlabelled_batch_size=4",
    "supervision.unlabelled.min_confidence=0",  # an untrained model is unsure everywhere
]

# ---------------------------------------------------------------- train.py in a subprocess


def file_size_limit(limit: int):
    """For a child process: writes beyond ``limit`` bytes fail with EFBIG (as on a full disk)
    instead of killing it."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run_train(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600, limit_bytes: int | None = None
) -> subprocess.CompletedProcess:
    """``python train.py *args`` in ``cwd``; this folder is importable there (for SignalAt);
    ``limit_bytes``: no file it writes may grow past that (a full disk).

    Runs in a process group of its own: a run still going after ``timeout`` seconds (a hang) is
    killed with every process it started (DDP ranks included) and the test fails, saying so.
    """
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    full_env = {**os.environ, "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "0", "PYTHONPATH": path, **(env or {})}
    command = [sys.executable, str(ROOT / "train.py"), *args]
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=file_size_limit(limit_bytes) if limit_bytes else None,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"train.py did not finish within {timeout:g} s (hung?):\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def epe_from_per_image(run_dir: Path) -> float:
    """The mean error over every labelled point of ``test_per_image.csv`` (one cell per image and
    keypoint): what ``test/epe_px`` must equal when the labels, the predictions and the files agree."""
    rows = read_csv(run_dir / "test_per_image.csv")
    cells = [float(v) for r in rows for k, v in r.items() if k.endswith("_px") and k != "mean_px" and v]
    assert cells and all(map(math.isfinite, cells)), "no labelled test point, or a non-finite error"
    return sum(cells) / len(cells)


# ---------------------------------------------------------------- callbacks that misbehave on purpose


def interrupt_at(epoch: int, batch: int, marker: Path, signal_name: str, rank: int | None = None) -> list[str]:
    """Overrides that add :class:`SignalAt` to a run."""
    return [
        "+callbacks.interrupt._target_=helpers.SignalAt",
        f"+callbacks.interrupt.epoch={epoch}",
        f"+callbacks.interrupt.batch={batch}",
        f"+callbacks.interrupt.marker={marker}",
        f"+callbacks.interrupt.signal_name={signal_name}",
        f"+callbacks.interrupt.rank={'null' if rank is None else rank}",
    ]


class SignalAt(Callback):
    """Sends ``signal_name`` to this process at batch ``batch`` of epoch ``epoch`` (a user's Ctrl+C,
    a scheduler's SIGTERM), unless ``marker`` exists; creates ``marker`` first, so the resumed run,
    which replays the same config, is not interrupted again."""

    def __init__(
        self, epoch: int, batch: int, marker: str, signal_name: str = "SIGTERM", rank: int | None = None
    ) -> None:
        self.epoch, self.batch, self.marker, self.rank = epoch, batch, Path(marker), rank
        self.signal = signal.Signals[signal_name]

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self.rank is not None and trainer.global_rank != self.rank:  # under DDP: signal that rank only
            return
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch) and not self.marker.exists():
            self.marker.touch()
            if self.signal == signal.SIGINT:  # started in the background, Python may have inherited "ignore"
                signal.signal(signal.SIGINT, signal.default_int_handler)
            os.kill(os.getpid(), self.signal)


class RankZeroCollective(Callback):
    """An all-reduce on rank 0 only at the end of train epoch ``epoch``: the mistake a rank-0-only
    hook (progress bar, logger, writer) makes when it syncs. The run must fail, not hang."""

    def __init__(self, epoch: int = 0) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and trainer.current_epoch == self.epoch:
            torch.distributed.all_reduce(torch.zeros(1))


# ---------------------------------------------------------------- hostile files


class Payload:
    """Unpickling this creates ``marker``: what a hostile checkpoint, label or prediction file would do."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


# ---------------------------------------------------------------- label files


NAMES = ["snout", "left_ear", "right_ear", "neck"]


def shared_or_skip(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the shared dataset {path} is missing")
        pytest.skip(f"shared dataset not found at {path} (it lives beside the project, in ../shared/data)")
    return path


def write_images(root: Path, n: int = 12) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Rendered images of two sizes, grey and colour, PNG and JPEG -> [(relative path, image, points)]."""
    out = []
    small = SyntheticSource(num_train=n, width=70, height=50, num_keypoints=4, seed=1).splits()["train"]
    large = SyntheticSource(num_train=n, width=53, height=81, num_keypoints=4, seed=2).splits()["train"]
    folder = root / "labeled-data" / "vid1"
    folder.mkdir(parents=True)
    for i in range(n):
        s = (small if i % 2 else large)[i]
        image = s.image if i % 3 else s.image.mean(2, keepdims=True).astype(np.uint8).repeat(3, 2)
        name = f"labeled-data/vid1/img{i:02d}.{'jpg' if i % 4 == 1 else 'png'}"
        cv2.imwrite(str(root / name), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100])
        out.append((name, image, s.keypoints))
    return out


def cell(v: float) -> str:
    return "" if np.isnan(v) else repr(float(v))


def write_dlc(path: Path, samples, names=NAMES, scorer="me") -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scorer"] + [scorer] * 2 * len(names))
        w.writerow(["bodyparts"] + [n for n in names for _ in (0, 1)])
        w.writerow(["coords"] + ["x", "y"] * len(names))
        for name, _, pts in samples:
            w.writerow([name] + [cell(v) for v in pts.reshape(-1)])


def write_dlc_h5(path: Path, samples, split_index: bool = True, scorer: str = "me") -> None:
    """DeepLabCut's own label file: a pandas HDF table, key df_with_missing, columns scorer /
    bodyparts / coords; DeepLabCut 2.2+ splits the image path into (labeled-data, video, file)."""
    columns = pd.MultiIndex.from_product([[scorer], NAMES, ["x", "y"]], names=["scorer", "bodyparts", "coords"])
    names = [name for name, _, _ in samples]
    index = pd.MultiIndex.from_tuples([tuple(n.split("/")) for n in names]) if split_index else pd.Index(names)
    values = np.stack([pts.reshape(-1) for _, _, pts in samples])
    pd.DataFrame(values, index=index, columns=columns).to_hdf(path, key="df_with_missing", mode="w")


def write_coco(path: Path, samples) -> None:
    images, anns = [], []
    for i, (name, image, pts) in enumerate(samples):
        images.append({"id": i, "file_name": name, "width": image.shape[1], "height": image.shape[0]})
        kps = []
        for x, y in pts:
            kps += [0, 0, 0] if np.isnan(x) else [float(x), float(y), 2]
        anns.append({"id": 100 + i, "image_id": i, "category_id": 1, "keypoints": kps, "bbox": [0, 0, 10, 10]})
    cats = [{"id": 1, "name": "creature", "keypoints": NAMES}]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))


def write_plain(path: Path, samples, header: bool = True) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(["image"] + [f"{n}_{a}" for n in NAMES for a in "xy"])
        for name, _, pts in samples:
            w.writerow([name] + [cell(v) for v in pts.reshape(-1)])


def all_samples(source) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for split in source.splits().values():
        for i in range(len(split)):
            s = split[i]
            out[s.name] = (s.image, s.keypoints)
    return out


def edit_lines(path: Path, fn) -> None:
    lines = path.read_text().splitlines()
    fn(lines)
    path.write_text("\n".join(lines) + "\n")


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


# ---------------------------------------------------------------- videos and predictions

FRAMES, W, H = 24, 64, 48  # the rendered walk of conftest's ``video``; W x H: what encode() writes


def encode(
    path: Path, frames: int, width: int = W, height: int = H, faststart: bool = False, noise: bool = True
) -> Path:
    """An H.264 .mp4 of ``frames`` frames (a moving bright square on noise, so that frames outweigh
    the index, or on grey: faster); ``faststart`` puts the index (moov) before the frame data, so a
    copy cut short still announces every frame."""
    rng = np.random.default_rng(0)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = (
                rng.integers(0, 120, (height, width, 3), dtype=np.uint8)
                if noise
                else np.full((height, width, 3), 60, np.uint8)
            )
            x = i % (width - 8)
            image[height // 3 : height // 3 + 8, x : x + 8] = 230
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_video(path: Path, images: list[np.ndarray], codec: str, pix_fmt: str, times_ms: list[int] | None = None):
    """Encode RGB ``images``; ``times_ms`` gives each frame's time (variable frame rate)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=30)
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if times_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if times_ms is not None:
                frame.pts, frame.time_base = times_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def walk_images(width: int, height: int, n: int = 10) -> list[np.ndarray]:
    return [
        render_creature(np.random.default_rng([0, 3]), width, height, pose)[0]
        for pose in walking_poses(n, width, height)
    ]


def read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".h5":
        return pd.read_hdf(path, H5_KEY)
    return pd.read_csv(path, header=[0, 1, 2], index_col=0)  # as DeepLabCut reads its CSVs


def one_line_error(capsys, stopped, *words: str) -> str:
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its content."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, args: list[str], project: Path, *words: str) -> None:
    """The outlier tool stops with one line naming ``words`` and leaves ``project`` as it was."""
    before = snapshot(project)
    with pytest.raises(SystemExit) as stopped:
        outliers_main([str(a) for a in args])
    one_line_error(capsys, stopped, *words)
    assert snapshot(project) == before


# ---------------------------------------------------------------- rendered dots (the mirror convention)

SIDE = 24


def dots(points_px: list[tuple[int, int]]) -> torch.Tensor:
    """(1, 3, SIDE, SIDE) black image with a white pixel at each (column, row)."""
    image = torch.zeros(1, 3, SIDE, SIDE)
    for col, row in points_px:
        image[0, :, row, col] = 1.0
    return image


def pixel_norm(col: int, row: int) -> torch.Tensor:
    return (torch.tensor([col, row], dtype=torch.float64) + 0.5) / SIDE


def brightest(image: torch.Tensor, first_col: int = 0) -> torch.Tensor:
    """(B, 3, SIDE, W) -> (B, 2) normalized centre of each image's brightest pixel, its columns
    numbered from ``first_col``."""
    flat = image.sum(1).flatten(1).argmax(1)
    row, col = flat // image.shape[-1], flat % image.shape[-1] + first_col
    return (torch.stack([col, row], 1).double() + 0.5) / SIDE
