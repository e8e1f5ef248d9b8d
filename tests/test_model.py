from pathlib import Path

import pytest
import torch
from train_helpers import epe_from_per_image

from seqattn.models import QueryDecoderModel
from seqattn.models.layers import sine_encoding


def test_output_shape_range_and_gradients():
    model = QueryDecoderModel(num_keypoints=7, channels=(8, 16, 16), width=16, decoder_layers=1, heads=2)
    images = torch.randn(3, 3, 48, 48)
    coords = model(images)["coords"]
    assert coords.shape == (3, 7, 2)
    assert ((coords >= 0) & (coords <= 1)).all()
    coords.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)


def test_sine_encoding_separates_positions():
    xy = torch.tensor([[0.1, 0.2], [0.1, 0.2], [0.9, 0.2]])
    code = sine_encoding(xy, 32)
    assert code.shape == (3, 32)
    assert torch.allclose(code[0], code[1]) and not torch.allclose(code[0], code[2])


def test_simple_model_trains_through_train_py(make_cfg):
    from seqattn.training.train import train

    simple = ["+experiment=query_decoder", "model.channels=[8,16]", "model.width=16", "model.decoder_layers=1"]
    simple += ["model.heads=2"]
    cfg = make_cfg(*simple, "trainer.max_epochs=1")
    summary = train(cfg)
    assert summary.test_checkpoint == summary.best_checkpoint
    assert summary.test_metrics["test/epe_px"] == pytest.approx(epe_from_per_image(Path(cfg.paths.output_dir)))
