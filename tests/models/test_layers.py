import torch

from seqattn.models.layers import sine_encoding


def test_sine_encoding_separates_positions():
    xy = torch.tensor([[0.1, 0.2], [0.1, 0.2], [0.9, 0.2]])
    code = sine_encoding(xy, 32)
    assert code.shape == (3, 32)
    assert torch.allclose(code[0], code[1]) and not torch.allclose(code[0], code[2])
