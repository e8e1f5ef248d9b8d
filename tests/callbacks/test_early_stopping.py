"""seqattn.callbacks.early_stopping: the stopping rule on a small validation split: a windowed mean,
and no stop before a share of the budget."""

import lightning as L
import pytest
import torch
from helpers import compose_cfg
from torch.utils.data import DataLoader

from seqattn.callbacks import EarlyStoppingReport
from seqattn.errors import ConfigError
from seqattn.training.task import find_user_error
from seqattn.training.train import train

# A validation curve as a 6-image split gives it: a slow true improvement (0.15 px per epoch) under
# +-0.8 px of noise, and one lucky epoch (2) 2.5 px below the trend.
NOISE = [0.8, -0.8, -2.5, 0.8, -0.8, 0.6, -0.6, 0.8, -0.8, 0.7, -0.7, 0.8, -0.8, 0.6, -0.6, 0.8]
CURVE = [9.0 - 0.15 * e + n for e, n in enumerate(NOISE)]


class Curve(L.LightningModule):
    """Validates to ``curve[epoch]`` (val/epe_px) each epoch, one batch of nothing to learn; stops
    after the curve's last value if nothing stopped it before."""

    def __init__(self, curve: list[float]) -> None:
        super().__init__()
        self.curve = curve
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def training_step(self, batch, batch_idx):
        return (self.weight * batch).sum()

    def validation_step(self, batch, batch_idx) -> None:
        self.log("val/epe_px", self.curve[self.current_epoch])

    def on_train_epoch_end(self) -> None:  # before the monitoring callbacks of the same epoch
        if self.current_epoch == len(self.curve) - 1:
            self.trainer.should_stop = True

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)

    def train_dataloader(self):
        return DataLoader(torch.zeros(1, 1))

    def val_dataloader(self):
        return DataLoader(torch.zeros(1, 1))


def last_epoch(callback: EarlyStoppingReport, curve: list[float], max_epochs: int = 100) -> int:
    """The last epoch a Trainer (``max_epochs``, one process) runs with ``callback`` on ``curve``."""
    trainer = L.Trainer(
        max_epochs=max_epochs,
        callbacks=[callback],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
    )
    trainer.fit(Curve(curve))
    return trainer.current_epoch - 1  # the epochs finished, counted from 0


def rule(**kwargs) -> EarlyStoppingReport:
    settings = {"monitor": "val/epe_px", "mode": "min", "patience": 5, "verbose": False, "min_progress": 0.0}
    return EarlyStoppingReport(**{**settings, **kwargs})


def test_the_last_value_alone_follows_one_lucky_epoch_and_the_window_does_not():
    assert last_epoch(rule(), CURVE) == 7  # best at the lucky epoch 2, five epochs without beating it
    assert last_epoch(rule(window=5), CURVE) == len(CURVE) - 1  # the mean keeps improving: trains on


def test_a_true_plateau_still_stops_with_the_window():
    flat = [6.0 + n for n in NOISE] + [6.0 + n for n in NOISE]
    assert last_epoch(rule(window=5), flat) < len(flat) - 1


def test_no_stop_before_the_share_of_the_budget():
    flat = [5.0] * 30  # no improvement after epoch 0
    assert last_epoch(rule(), flat, max_epochs=30) == 5
    assert last_epoch(rule(min_progress=0.8), flat, max_epochs=30) == 23  # (23 + 1) / 30 = 80 %


def test_the_window_survives_a_resume():
    first, second = rule(window=5), rule(window=5)
    last_epoch(first, CURVE[:6])
    second.load_state_dict(first.state_dict())
    assert second.values == pytest.approx(CURVE[:6]) and second.values == first.values
    assert second.best_score == first.best_score and second.wait_count == first.wait_count


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="window"):
        rule(window=0)
    with pytest.raises(ValueError, match="min_progress"):
        rule(min_progress=1.5)


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


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"patience": -1}, "callbacks.early_stopping.patience must be an integer >= 0, got -1"),
        ({"patience": 2.5}, "callbacks.early_stopping.patience must be an integer >= 0, got 2.5"),
        ({"min_delta": -0.5}, "callbacks.early_stopping.min_delta must be >= 0, got -0.5"),
        ({"window": 0}, "callbacks.early_stopping.window must be >= 1, got 0"),
        ({"min_progress": 1.5}, "callbacks.early_stopping.min_progress must be in [0, 1], got 1.5"),
    ],
)
def test_meaningless_settings_are_refused_by_name(kwargs, words):
    with pytest.raises(ConfigError) as raised:
        EarlyStoppingReport(**{"monitor": "val/epe_px", "mode": "min", **kwargs})
    assert str(raised.value) == words


def test_patience_zero_and_a_positive_min_delta_are_fine():
    stop = EarlyStoppingReport(monitor="val/epe_px", mode="min", patience=0, min_delta=0.5)
    assert stop.patience == 0


def test_a_negative_patience_stops_train_before_anything_is_written(tmp_path):
    with pytest.raises(Exception) as raised:  # a constructor's error arrives wrapped by hydra.instantiate
        train(compose_cfg(tmp_path / "out", "callbacks.early_stopping.patience=-1"))
    assert "callbacks.early_stopping.patience must be an integer >= 0, got -1" in str(find_user_error(raised.value))
    assert not (tmp_path / "out").exists()
