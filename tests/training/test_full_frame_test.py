"""Labels with several animals: one train(cfg) trains the detector beside the pose model and tests
the whole pipeline on the test split's whole frames."""

import json
import math

import torch
from helpers import compose_cfg

from seqattn.data import build_source
from seqattn.inference.batch import load_checkpoint
from seqattn.training.adapt import resolve_auto
from seqattn.training.data_stats import measure


def test_the_run_resolves_the_layout_and_writes_full_frame_metrics(animals_run):
    summary, run = animals_run
    metrics = json.loads((run / "test_metrics.json").read_text())
    full = metrics["full_frame"]
    for key in ("matched_epe_px_mean", "instance_recall", "instance_precision", "oks_map", "num_true", "tracks"):
        assert key in full
    assert full["num_true"] == 2 * 8  # two animals in each of the eight test frames
    assert full["num_frames"] == 8
    assert "full_frame/oks_map" in summary.test_metrics
    assert (run / "viz" / "test_full_frame_worst.png").stat().st_size > 0  # the worst frames, drawn
    module = load_checkpoint(summary.best_checkpoint)
    assert module.detector is not None and module.instances.max_animals == 2
    info = json.loads((run / "run_info.json").read_text())
    chosen = info["adaptive"]["chosen"]
    assert chosen["detector.crop_px"]["value"] == module.instances.crop_px
    assert chosen["detector.input_size"]["value"] == module.instances.input_size


def test_one_animal_per_frame_resolves_no_detector(tmp_path):
    cfg = compose_cfg(tmp_path)
    resolved, adaptive = resolve_auto(cfg, measure(build_source(cfg.data)))
    assert resolved.detector is None and "one animal" in adaptive["chosen"]["detector"]["reason"]


def test_the_detector_learns_from_whole_frames(tmp_path):
    """A few steps on whole frames only lower the detector's loss: its term reaches its weights."""
    cfg = compose_cfg(tmp_path, "data.source.animals=2", "data.source.num_keypoints=10", "data.source.width=96",
                      "data.source.height=72", "detector.channels=[8,8,16]", "detector.width=8")  # fmt: skip
    source = build_source(cfg.data)
    resolved, _ = resolve_auto(cfg, measure(source))
    assert resolved.detector.max_animals == 2 and not math.isnan(resolved.detector.crop_px)
    assert resolved.detector.input_size == 96  # frames of 96 px: no upsampling past them
    from seqattn.data import Geometry, build_datamodule
    from seqattn.training.train import build_module

    dm = build_datamodule(resolved.data, Geometry.for_model(resolved.input_size, resolved.model), source, True, 96)
    module = build_module(resolved, source, dm.keypoint_names)
    frames = dm.detector_frames
    batch = {k: torch.stack([frames[i][k] for i in range(8)]) for k in ("image", "anchors")}
    batch = {"image": batch["image"].float() / 255, "anchors": batch["anchors"]}
    opt = torch.optim.Adam(module.detector.parameters(), 1e-2)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = module.criterion.anchors(module.detector(batch["image"]), batch["anchors"])
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.8 * first


def test_drawn_pairs_put_each_prediction_beside_its_matched_animal():
    import numpy as np

    from seqattn.inference.full_frame import Animals
    from seqattn.training.full_frame_test import paired

    truth = np.array([[[10.0, 10.0], [20.0, 10.0]], [[50.0, 50.0], [60.0, 50.0]], [[90.0, 5.0], [95.0, 5.0]]])
    pred = truth[[1, 0]] + 1.0  # two of the three found, in the other order, 1 px off
    pred = np.concatenate([pred, [[[200.0, 200.0], [210.0, 200.0]]]])  # and one that is no animal
    p, t = paired(Animals(pred, np.ones((3, 2), np.float32), np.ones(3, np.float32)), truth)
    assert p.shape == t.shape == (8, 2)
    both = np.isfinite(p).all(1) & np.isfinite(t).all(1)
    assert both.sum() == 4 and np.allclose(p[both] - t[both], 1.0)  # matched: an error line each
    assert np.isnan(t[4:6]).all() and np.isnan(p[6:8]).all()  # the stray prediction, the missed animal
