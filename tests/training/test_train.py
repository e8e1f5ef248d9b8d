"""seqattn.training.train: fit -> test on the best checkpoint -> summary, and what a run leaves on disk."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import SOURCE, read_csv
from lightning import Trainer

from seqattn.data import build_datamodule
from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.errors import ConfigError
from seqattn.evaluation.report import num
from seqattn.io.images import read_image
from seqattn.module import KeypointModule
from seqattn.training.resume import LAST_CHECKPOINT
from seqattn.training.train import init_weights, train


def test_fit_checkpoints_and_tests_the_best_checkpoint(tiny_run, make_cfg):
    summary, out = tiny_run  # trainer.max_epochs=3
    cfg = make_cfg()  # its data

    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert "last.ckpt" in ckpts and any(n.startswith("best-epoch") for n in ckpts)
    assert all("/" not in n and "=" not in n for n in ckpts)
    assert summary.test_checkpoint == summary.best_checkpoint
    assert summary.test_checkpoint_epoch == summary.best_epoch
    assert summary.last_epoch == 2 and summary.stop_reason.startswith("reached trainer.max_epochs")
    assert math.isfinite(summary.objective())

    saved = json.loads((out / "summary.json").read_text())
    assert saved["best_checkpoint"] == summary.best_checkpoint
    assert saved["test_metrics"]["test/epe_px"] == pytest.approx(summary.test_metrics["test/epe_px"])
    for key in ("test/epe_px", "test/loss", "test/loss_x", "test/loss_y", "test/pck@5px"):
        assert key in saved["test_metrics"]
    # the tested checkpoint's estimated label offset, in pixels of the step-0 input
    tested = torch.load(summary.test_checkpoint, weights_only=True)["state_dict"]["label_offset.offset"]
    assert np.allclose(saved["label_offset_px"], tested.double() * summary.input_size, atol=1e-3)
    assert 0 < np.abs(tested).max()  # residuals of a few epochs moved it

    # The reported test numbers are those of the best checkpoint, rebuilt from the file alone.
    model = KeypointModule.load_from_checkpoint(summary.best_checkpoint)
    datamodule = build_datamodule(cfg.data, model.geometry, augment=False)
    again = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False).test(model, datamodule=datamodule)
    assert again[0]["test/epe_px"] == pytest.approx(summary.test_metrics["test/epe_px"], rel=1e-5)


def test_run_folder_holds_test_tables_pictures_and_report(tiny_run):
    summary, out = tiny_run
    names = SyntheticSource(**SOURCE).keypoint_names
    epe = summary.test_metrics["test/epe_px"]

    saved = json.loads((out / "test_metrics.json").read_text())
    assert saved["checkpoint"] == summary.best_checkpoint == summary.test_checkpoint
    assert saved["checkpoint_epoch"] == summary.best_epoch
    assert saved["metrics"] == pytest.approx(summary.test_metrics)
    assert saved["num_images"] == SOURCE["num_test"]

    per_kp = read_csv(out / "test_per_keypoint.csv")
    assert [r["keypoint"] for r in per_kp] == names
    for r in per_kp:
        assert r["checkpoint"] == summary.best_checkpoint and int(r["checkpoint_epoch"]) == summary.best_epoch
        assert float(r["epe_px"]) == pytest.approx(summary.test_metrics[f"test/epe_px/{r['keypoint']}"], abs=1e-3)
    counts = [int(r["count"]) for r in per_kp]
    assert sum(c * float(r["epe_px"]) for c, r in zip(counts, per_kp, strict=True)) / sum(counts) == pytest.approx(
        epe, abs=1e-3
    )

    per_image = read_csv(out / "test_per_image.csv")
    assert [r["image"] for r in per_image] == [f"synthetic/test/{i:06d}" for i in range(SOURCE["num_test"])]
    cells = [[float(r[f"{n}_px"]) for n in names if r[f"{n}_px"]] for r in per_image]
    assert [int(r["labelled"]) for r in per_image] == [len(c) for c in cells]
    assert [float(r["mean_px"]) for r in per_image] == pytest.approx([np.mean(c) for c in cells], abs=1e-3)
    assert np.mean([e for c in cells for e in c]) == pytest.approx(epe, abs=1e-3)
    assert {r["checkpoint"] for r in per_image} == {summary.best_checkpoint}

    for name in ("val_epoch000", "val_epoch001", "val_epoch002", "test_worst"):
        picture = read_image(out / "viz" / f"{name}.png")
        assert picture.shape[0] > 100 and picture.shape[1] > 300

    history = read_csv(out / "history.csv")
    assert [int(r["epoch"]) for r in history] == [0, 1, 2]
    assert all(r["train/epe_px"] and r["val/loss"] and r["lr"] for r in history)
    # the history's validation EPE at the best epoch is the checkpoint's monitored score
    assert float(history[summary.best_epoch]["val/epe_px"]) == pytest.approx(summary.best_score)
    report = (out / "report.md").read_text()
    saved_summary = json.loads((out / "summary.json").read_text())
    assert f"{num(saved_summary['best_score'])} px at epoch {saved_summary['best_epoch']}" in report
    assert f"| test/epe_px | {num(saved_summary['test_metrics']['test/epe_px'])} |" in report
    assert saved_summary["stop_reason"] in report and "learning_curve.png" in report
    assert read_image(out / "learning_curve.png").std() > 0


def test_no_best_checkpoint_means_no_silent_test_on_last_weights(make_cfg, caplog):
    summary = train(make_cfg("trainer.max_epochs=1", "+trainer.limit_val_batches=0", "callbacks.early_stopping=null"))
    assert summary.best_checkpoint is None and summary.test_checkpoint is None and summary.test_metrics == {}
    assert "NO BEST CHECKPOINT" in caplog.text
    assert summary.objective() == math.inf


def test_loss_threshold_px_reaches_the_module(make_cfg):
    summary = train(make_cfg("trainer.max_epochs=1", "loss.threshold_px=8", "test=false"))
    assert summary.loss_threshold == pytest.approx(8 / 32) and summary.loss_threshold_px == pytest.approx(8)
    ckpt = torch.load(summary.last_checkpoint, map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["loss"]["threshold_px"] == 8


def test_a_wall_time_budget_says_so_when_it_ends(make_cfg):
    # max_epochs=-1: only the 4 s budget ends the run (the stopping rule reads its progress from it)
    summary = train(
        make_cfg("trainer.max_epochs=-1", "+trainer.max_time=00:00:00:04", "callbacks.early_stopping.patience=1000")
    )
    assert not summary.stopped_early and "max_time" in summary.stop_reason, summary.stop_reason
    assert summary.test_metrics  # then tested as usual


def test_init_from_starts_from_the_weights_of_a_checkpoint(checkpoint, make_cfg):
    ckpt = checkpoint
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


def test_a_continued_run_reads_its_checkpoint_once_before_trainer_fit(trained, make_cfg, tmp_path, monkeypatch):
    last = (tmp_path / "last.ckpt").resolve()
    shutil.copy(trained / LAST_CHECKPOINT, last)  # the session run's 3 epochs, outside its folder
    loads = []
    real_load = torch.load

    def counting_load(f, *args, **kwargs):
        if isinstance(f, str | Path) and Path(f).resolve() == last:
            loads.append(f)
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    summary = train(make_cfg("trainer.max_epochs=4", "test=false", f"ckpt_path={last}"))
    assert summary.resumed_from == str(last) and summary.last_epoch == 3
    assert len(loads) == 1  # by train (checks, letterbox, model settings, weights); Trainer.fit opens its own handle
