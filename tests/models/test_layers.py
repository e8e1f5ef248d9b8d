import torch

from seqattn.models.detector import AnimalDetector
from seqattn.models.layers import fold_batch_norms, sine_encoding
from seqattn.models.sequential import SequentialAttentionModel


def test_sine_encoding_separates_positions():
    xy = torch.tensor([[0.1, 0.2], [0.1, 0.2], [0.9, 0.2]])
    code = sine_encoding(xy, 32)
    assert code.shape == (3, 32)
    assert torch.allclose(code[0], code[1]) and not torch.allclose(code[0], code[2])


def _with_running_statistics(net: torch.nn.Module) -> torch.nn.Module:
    """``net`` with batch-norm statistics and affine terms far from the identity, in eval mode."""
    torch.manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


def test_folded_batch_norms_give_the_same_outputs():
    model = _with_running_statistics(SequentialAttentionModel(5, channels=(8, 16, 16, 16), width=16, steps=2))
    detector = _with_running_statistics(AnimalDetector((8, 8, 16), 8))
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        before, anchors = model(images), detector(images)
        conv_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
        assert fold_batch_norms(model) == conv_bn - 1  # all but the norm after the pyramid's sum (no conv)
        assert fold_batch_norms(detector) > 0
        after = model(images)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 1
    assert not model.training
    for key in ("coords", "confidence", "heat"):
        assert torch.allclose(before[key], after[key], atol=1e-5), key
    assert torch.allclose(anchors, detector(images), atol=1e-5)
