import torch

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
