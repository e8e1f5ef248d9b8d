import csv
import math

import pytest
import torch

from seqattn.optim import warmup_cosine
from seqattn.training.train import train


def test_threshold_schedule_moves_from_lenient_to_tight_and_is_logged(tmp_path, make_cfg):
    summary = train(make_cfg("+experiment=threshold_schedule", "trainer.max_epochs=3", "test=false"))
    rows = list(csv.DictReader(open(next((tmp_path / "run").rglob("metrics.csv")))))
    logged = [float(r["loss/threshold"]) for r in rows if r.get("loss/threshold")]
    # epochs 0, 1, 2 of 3: geometric from 0.1 towards 0.01
    assert logged == pytest.approx([0.1, 0.1 * 0.1 ** (1 / 3), 0.1 * 0.1 ** (2 / 3)], rel=1e-6)
    assert summary.loss_threshold == pytest.approx(logged[-1])
    # stated in pixels of the network input, as everywhere else (not of the hires letterbox)
    logged_px = [float(r["loss/threshold_px"]) for r in rows if r.get("loss/threshold_px")]
    assert logged_px == pytest.approx([t * summary.input_size for t in logged], rel=1e-6)


def test_warmup_cosine_follows_steps_or_wall_time():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = warmup_cosine(opt, total_steps=100, warmup_fraction=0.1, final_lr_fraction=0.0)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[55] == pytest.approx(0.5 * (1 + math.cos(math.pi * 45 / 90)))
    # unknown step count (max_epochs=-1) with a spent time budget: fully decayed after warm-up
    opt2 = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    timed = warmup_cosine(opt2, total_steps=float("inf"), total_seconds=1e-9, final_lr_fraction=0.01)
    for _ in range(150):
        opt2.step()
        timed.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.01)
