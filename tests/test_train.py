import json
import math
from pathlib import Path

import pytest
import torch
from lightning import Trainer

from seqattn.data import build_datamodule
from seqattn.module import KeypointModule
from seqattn.training.train import train


def test_fit_checkpoints_and_tests_the_best_checkpoint(tmp_path, make_cfg):
    out = tmp_path / "run"
    cfg = make_cfg("trainer.max_epochs=3")
    summary = train(cfg)

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

    # The reported test numbers are those of the best checkpoint, rebuilt from the file alone.
    model = KeypointModule.load_from_checkpoint(summary.best_checkpoint)
    datamodule = build_datamodule(cfg.data, model.geometry, augment=False)
    again = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False).test(model, datamodule=datamodule)
    assert again[0]["test/epe_px"] == pytest.approx(summary.test_metrics["test/epe_px"], rel=1e-5)


# lr = 0: only BatchNorm statistics move, far less than min_delta: a plateau from epoch 1 on
PLATEAU = [
    "trainer.max_epochs=6",
    "optimizer.lr=0",
    "callbacks.early_stopping.patience=1",
    "callbacks.early_stopping.min_delta=0.5",
]


def test_early_stopping_stops_and_keeps_the_best_epoch(make_cfg):
    # allowed from the start of the budget, patience 1 stops at epoch 1
    summary = train(make_cfg(*PLATEAU, "callbacks.early_stopping.min_progress=0"))
    assert summary.stopped_early and summary.last_epoch == 1
    assert summary.best_epoch in (0, 1) and summary.test_checkpoint_epoch == summary.best_epoch
    assert "did not improve" in summary.stop_reason


def test_early_stopping_waits_for_its_share_of_the_budget(make_cfg):
    # The same plateau from epoch 1, but stopping is allowed only once 80 % of 6 epochs are spent:
    # after epoch 4 (5 / 6), not before.
    summary = train(make_cfg(*PLATEAU, "test=false"))
    assert summary.stopped_early and summary.last_epoch == 4, summary.stop_reason


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


def test_a_continued_run_reads_its_checkpoint_once_before_trainer_fit(make_cfg, tmp_path, monkeypatch):
    first = train(make_cfg("trainer.max_epochs=1", "test=false"))
    last = Path(first.last_checkpoint).resolve()
    loads = []
    real_load = torch.load

    def counting_load(f, *args, **kwargs):
        if isinstance(f, str | Path) and Path(f).resolve() == last:
            loads.append(f)
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    summary = train(make_cfg("trainer.max_epochs=2", "test=false", f"ckpt_path={last}"))
    assert summary.resumed_from == str(last) and summary.last_epoch == 1
    assert len(loads) == 1  # by train (checks, letterbox, model settings, weights); Trainer.fit opens its own handle
