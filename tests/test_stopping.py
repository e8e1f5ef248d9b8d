"""The stopping rule on a small validation split: a windowed mean, and no stop before a share of the budget."""

from types import SimpleNamespace

import pytest
import torch

from seqattn.callbacks import EarlyStoppingReport
from seqattn.training.choices import choose_stopping_window

# A validation curve as a 6-image split gives it: a slow true improvement (0.15 px per epoch) under
# +-0.8 px of noise, and one lucky epoch (2) 2.5 px below the trend.
NOISE = [0.8, -0.8, -2.5, 0.8, -0.8, 0.6, -0.6, 0.8, -0.8, 0.7, -0.7, 0.8, -0.8, 0.6, -0.6, 0.8]
CURVE = [9.0 - 0.15 * e + n for e, n in enumerate(NOISE)]


def fake_trainer(max_epochs: int) -> SimpleNamespace:
    """What the callback reads from a Trainer (one process, no wall-time budget)."""
    return SimpleNamespace(
        callback_metrics={},
        fast_dev_run=False,
        current_epoch=0,
        callbacks=[],
        max_epochs=max_epochs,
        max_steps=-1,
        global_step=0,
        should_stop=False,
        strategy=SimpleNamespace(reduce_boolean_decision=lambda decision, all: decision),
    )


def last_epoch(callback: EarlyStoppingReport, curve: list[float], max_epochs: int = 100) -> int:
    trainer = fake_trainer(max_epochs)
    for epoch, value in enumerate(curve):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {"val/epe_px": torch.tensor(value)}
        callback._run_early_stopping_check(trainer)
        if trainer.should_stop:
            return epoch
    return len(curve) - 1


def rule(**kwargs) -> EarlyStoppingReport:
    return EarlyStoppingReport(
        monitor="val/epe_px", mode="min", patience=5, verbose=False, **{"min_progress": 0.0, **kwargs}
    )


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


@pytest.mark.parametrize(("num_val", "window"), [(6, 5), (9, 4), (12, 3), (30, 1), (400, 1), (0, 5)])
def test_window_covers_enough_validation_images(num_val, window):
    assert choose_stopping_window(num_val)[0] == window


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="window"):
        rule(window=0)
    with pytest.raises(ValueError, match="min_progress"):
        rule(min_progress=1.5)
