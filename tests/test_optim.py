import pytest
import torch

from seqattn.optim import warmup_cosine


def test_warmup_cosine_follows_steps_or_wall_time():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = warmup_cosine(opt, total_steps=100, warmup_fraction=0.1, final_lr_fraction=0.0)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[55] == pytest.approx(0.5)  # halfway through the decay from step 10 to 100: cos(pi / 2) = 0
    # unknown step count (max_epochs=-1) with a spent time budget: fully decayed after warm-up
    opt2 = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    timed = warmup_cosine(opt2, total_steps=float("inf"), total_seconds=1e-9, final_lr_fraction=0.01)
    for _ in range(150):
        opt2.step()
        timed.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.01)
