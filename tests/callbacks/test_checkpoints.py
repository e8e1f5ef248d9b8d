"""seqattn.callbacks.checkpoints: last.ckpt keeps every finished epoch; a checkpoint is written whole
or not at all."""

import pytest
import torch
from helpers import compose_cfg, interrupt_at

from seqattn.callbacks import AtomicCheckpointIO
from seqattn.checkpoint import read_checkpoint
from seqattn.training.resume import LAST_CHECKPOINT
from seqattn.training.train import train

# A plateau on purpose: frozen weights, and no change counts as an improvement.
PLATEAU = ["optimizer.lr=0", "callbacks.early_stopping.min_delta=100", "callbacks.early_stopping.patience=10"]


@pytest.mark.slow
def test_last_checkpoint_holds_every_finished_epoch_through_a_plateau(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(SystemExit):  # SIGTERM in epoch 3, after three epochs without improvement
        train(compose_cfg(run, "trainer.max_epochs=5", *PLATEAU, *interrupt_at(3, 1, tmp_path / "m", "SIGTERM")))
    best = next((run / "checkpoints").glob("best-epoch*.ckpt"))
    assert read_checkpoint(best)["epoch"] == 0  # nothing improved after epoch 0
    assert read_checkpoint(run / LAST_CHECKPOINT)["epoch"] == 2  # yet no finished epoch is lost


def test_checkpoints_are_written_beside_their_name_and_never_half(tmp_path):
    io, target = AtomicCheckpointIO(), tmp_path / "ckpts" / "last.ckpt"
    io.save_checkpoint({"epoch": 1}, target)
    with pytest.raises(Exception):  # noqa: B017 - whatever the pickler raises for a lambda
        io.save_checkpoint({"epoch": 2, "bad": lambda: 0}, target)
    assert torch.load(target, weights_only=True) == {"epoch": 1}  # the previous file, whole
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.ckpt"]  # no temporary left
