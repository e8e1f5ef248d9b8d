from pathlib import Path

import pytest
import torch
from helpers import compose_cfg, epe_from_per_image

from seqattn.errors import ConfigError
from seqattn.models import SequentialAttentionModel
from seqattn.models.sequential import crop_glimpses, sample_cells, soft_argmax
from seqattn.training.task import find_user_error
from seqattn.training.train import train


def test_soft_argmax_finds_a_sharp_peak_at_its_cell_centre():
    logits = torch.full((1, 2, 8, 10), -50.0)
    logits[0, 0, 3, 7] = 50.0
    logits[0, 1, 0, 0] = 50.0
    xy = soft_argmax(logits)
    assert torch.allclose(xy[0, 0], torch.tensor([7.5 / 10, 3.5 / 8]), atol=1e-5)
    assert torch.allclose(xy[0, 1], torch.tensor([0.5 / 10, 0.5 / 8]), atol=1e-5)


def test_glimpse_is_centred_on_the_point():
    image = torch.zeros(1, 3, 64, 64)
    image[0, :, 40, 21] = 1.0  # the pixel centred at ((21 + 0.5) / 64, (40 + 0.5) / 64)
    centre = torch.tensor([[[21.5 / 64, 40.5 / 64]]])
    g = crop_glimpses(image, centre, extent=8 / 64, size=8)  # 8 input pixels sampled on 8 cells
    assert g.shape == (1, 3, 8, 8)
    peak = divmod(int(g[0, 0].argmax()), 8)
    assert peak in {(3, 3), (3, 4), (4, 3), (4, 4)}  # the two middle cells straddle the centre


@pytest.mark.parametrize(("source", "factor"), [("pixels", 2), ("pixels", 1), ("features", 2)])
def test_the_mirrored_pass_is_the_pass_on_the_mirrored_images(source, factor):
    """``mirrored=True`` predicts for images.flip(-1) without making them (block means mirrored,
    glimpses sampled at mirrored places): every step's estimate as the plain pass on flipped images."""
    torch.manual_seed(0)
    model = SequentialAttentionModel(
        3, channels=(8, 8, 16), width=16, steps=2, heads=2, glimpse_size=8, hires_factor=factor, glimpse_source=source
    ).eval()
    for step in model.refine:  # glimpses move the estimates: a zero-initialised residual would hide a wrong glimpse
        torch.nn.init.normal_(step.residual[-1].weight, std=0.5)
    images = torch.randn(2, 3, 32 * factor, 32 * factor)
    with torch.no_grad():
        flipped, mirrored = model(images.flip(-1)), model(images, mirrored=True)
    for a, b in zip(flipped["steps"], mirrored["steps"], strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(flipped["confidence"], mirrored["confidence"], atol=1e-6)
    assert (flipped["steps"][-1] - flipped["steps"][0]).abs().max() > 1e-3  # the glimpses moved the estimates


@pytest.mark.parametrize("source", ["pixels", "features"])
def test_glimpse_cnns_take_the_callers_autocast_in_evaluation_only(source):
    """Prediction in bf16 runs the glimpses' CNNs in bf16 too; training keeps them in float32, and
    the estimates are float32 either way."""
    model = SequentialAttentionModel(3, channels=(8, 8, 16), width=12, steps=1, heads=2, glimpse_size=8,
                                     glimpse_source=source)  # fmt: skip
    cnn = model.refine[0].encode[0][0] if source == "pixels" else model.hires[0]
    seen = []
    cnn.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    images = torch.randn(2, 3, 64, 64)
    for training, expected in ((False, torch.bfloat16), (True, torch.float32)):
        model.train(training)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(images)
        assert seen.pop() == expected and out["coords"].dtype == torch.float32
    model.eval()
    model(images)
    assert seen.pop() == torch.float32  # no autocast: float32


def test_outputs_steps_and_gradients():
    model = SequentialAttentionModel(5, channels=(8, 8, 16), width=16, steps=2, heads=2, glimpse_size=8)
    out = model(torch.randn(2, 3, 64, 64))
    assert out["coords"].shape == (2, 5, 2) and len(out["steps"]) == 3
    assert out["confidence"].shape == (2, 5) and ((out["confidence"] >= 0) & (out["confidence"] <= 1)).all()
    # zero-initialised residuals and a uniform glimpse: a fresh step barely moves the estimate
    sum(s.sum() for s in out["steps"]).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_image_context_lets_step_0_see_across_the_whole_image():
    # a change in one corner reaches the step-0 estimate only through the context layer: the CNN
    # alone sees about a quarter of a 256 px image
    def corner_effect(context_layers: int) -> float:
        torch.manual_seed(0)
        model = SequentialAttentionModel(
            3, channels=(8, 8, 16), width=16, steps=0, heads=2, hires_factor=1, context_layers=context_layers
        ).eval()
        image = torch.rand(1, 3, 256, 256)
        changed = image.clone()
        changed[:, :, :32, :32] = 1.0 - changed[:, :, :32, :32]
        with torch.no_grad():
            heat = [model.heat(model.step0_features(x))[0, :, -8:, -8:] for x in (image, changed)]  # far corner
        return float((heat[0] - heat[1]).abs().max())

    assert corner_effect(0) == 0.0
    assert corner_effect(1) > 0.0  # without a path the outputs are bit-identical, as above


def test_trains_end_to_end_on_a_hires_letterbox(make_cfg):
    from seqattn.training.train import train

    model = ["model=sequential", "model.channels=[8,8,16]", "model.width=16", "model.heads=2", "model.glimpse_size=8"]
    cfg = make_cfg(*model, "supervision.heatmap_weight=0.05", "trainer.max_epochs=1")  # heat-map term too
    summary = train(cfg)
    # errors measured on the hires letterbox and decoded to original pixels agree with the table
    assert summary.test_metrics["test/epe_px"] == pytest.approx(epe_from_per_image(Path(cfg.paths.output_dir)))
    ckpt = torch.load(summary.best_checkpoint, map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["model"]["hires_factor"] == 2
    from seqattn.module import KeypointModule

    module = KeypointModule.load_from_checkpoint(summary.best_checkpoint)
    assert module.codec.side == module.geometry.side == 2 * 32  # letterbox at hires_factor x input_size
    assert "heatmap" in module.criterion.terms
    assert summary.loss_threshold_px == summary.loss_threshold * 32  # stated at the step-0 input


def test_block_means_are_the_average_pool_of_each_block():
    from seqattn.models.sequential import block_means

    images = torch.randn(2, 3, 12, 8)
    for m in (2, 4):
        expected = images.unflatten(2, (12 // m, m)).unflatten(4, (8 // m, m)).mean((3, 5))
        for x in (images, images.contiguous(memory_format=torch.channels_last)):
            assert torch.allclose(block_means(x, m), expected, atol=1e-6)


def test_soft_argmax_keeps_float32_under_bf16_autocast():
    logits = torch.zeros(1, 1, 40, 40)
    logits[0, 0, 17, 29] = 30.0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        xy = soft_argmax(logits.bfloat16())
    assert xy.dtype == torch.float32  # bf16 would round 0.7375 to the nearest 1/256: 0.6 px at 160
    assert torch.allclose(xy[0, 0], torch.tensor([29.5 / 40, 17.5 / 40]), atol=1e-4)


def test_trains_in_the_chips_precision_with_channels_last(make_cfg):
    # trainer.precision=auto: bf16 autocast on a CPU with native bf16 (this one: AVX-512 BF16), else float32
    import json

    from seqattn.hardware import cpu_bf16
    from seqattn.training.run_info import RUN_INFO_FILE
    from seqattn.training.train import train

    cfg = make_cfg("trainer.precision=auto", "channels_last=true", "trainer.max_epochs=1")
    summary = train(cfg)
    assert summary.best_checkpoint and 0 < summary.test_metrics["test/epe_px"] < float("inf")
    info = json.loads(open(f"{cfg.paths.output_dir}/{RUN_INFO_FILE}").read())
    native, why = cpu_bf16()
    chosen = info["adaptive"]["chosen"]["trainer.precision"]
    assert chosen["value"] == ("bf16-mixed" if native else "32-true") and why in chosen["reason"]
    assert info["config"]["trainer"]["precision"] == chosen["value"]


def test_sampled_cells_read_the_feature_at_each_point():
    fmap = torch.zeros(1, 2, 16, 16)
    fmap[0, 1, 5, 9] = 1.0  # the cell centred at ((9 + 0.5) / 16, (5 + 0.5) / 16)
    centres = torch.tensor([[[9.5 / 16, 5.5 / 16], [0.5, 0.5]]])
    cells = sample_cells(fmap, centres, extent=3 / 16, cells=3)  # 3 x 3 cells one map cell apart
    assert cells.shape == (2, 9, 2)
    assert cells[0, 4, 1] == 1.0 and cells[0, :, 1].sum() == 1.0  # the middle cell, exactly
    assert cells[1].abs().sum() == 0


def test_features_glimpses_share_one_map_and_pixel_glimpses_have_their_own_cnn():
    small = {"channels": (8, 8, 16), "width": 16, "steps": 2, "heads": 2, "glimpse_size": 8}
    few = SequentialAttentionModel(4, **small, glimpse_source="pixels")
    many = SequentialAttentionModel(20, **small, glimpse_source="features")
    assert few.hires is None and many.refine[0].encode is None  # one shared map, no per-step glimpse CNN
    out = many(torch.randn(2, 3, 64, 64))
    assert out["coords"].shape == (2, 20, 2) and len(out["steps"]) == 3
    sum(s.sum() for s in out["steps"]).backward()
    assert all(torch.isfinite(p.grad).all() for p in many.parameters() if p.grad is not None)
    assert many.hires[0].weight.grad.abs().sum() > 0  # the shared map is trained through the glimpses
    forced = SequentialAttentionModel(20, channels=(8, 8, 16), width=16, steps=1, heads=2, glimpse_source="pixels")
    assert forced.hires is None and forced.refine[0].encode is not None


TINY_MODEL = {"num_keypoints": 2, "channels": (8, 8, 16), "width": 16, "heads": 2, "glimpse_size": 8}


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"steps": -1}, "model.steps must be an integer >= 0, got -1"),
        ({"glimpse_shrink": 0}, "model.glimpse_shrink must be in (0, 1], got 0"),
        ({"glimpse_shrink": 1.5}, "model.glimpse_shrink must be in (0, 1], got 1.5"),
        ({"glimpse_extent": -0.1}, "model.glimpse_extent must be > 0, got -0.1"),
        ({"glimpse_size": 1}, "model.glimpse_size must be >= 2 (a glimpse of (size/2)^2 cells), got 1"),
        ({"width": 15}, "model.width must be divisible by model.heads, got width 15, heads 2"),
    ],
)
def test_meaningless_settings_are_refused_by_name(kwargs, words):
    with pytest.raises(ConfigError) as raised:
        SequentialAttentionModel(**{**TINY_MODEL, **kwargs})
    assert str(raised.value) == words


def test_no_steps_and_no_shrink_are_fine():
    assert SequentialAttentionModel(**TINY_MODEL, steps=0).steps == 0
    assert SequentialAttentionModel(**TINY_MODEL, glimpse_shrink=1).glimpse_shrink == 1


def test_negative_steps_stop_train_before_anything_is_written(tmp_path):
    with pytest.raises(Exception) as raised:  # a constructor's error arrives wrapped by hydra.instantiate
        train(compose_cfg(tmp_path / "out", "model.steps=-1"))
    assert "model.steps must be an integer >= 0, got -1" in str(find_user_error(raised.value))
    assert not (tmp_path / "out").exists()
