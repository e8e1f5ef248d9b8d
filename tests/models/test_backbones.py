"""Pretrained step-0 backbones: weights from a local file, clear errors without one (no network here)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import ROOT, compose_cfg, tiny
from safetensors.torch import save_file

from seqattn.errors import ConfigError
from seqattn.inference.batch import load_checkpoint
from seqattn.models.backbones import NO_WEIGHTS, PretrainedBackbone
from seqattn.training.train import train


def hub_style_file(name: str, path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """Randomly initialised weights saved the way the hub's classification checkpoints are
    (``resnet.``/``convnext.`` prefixes and a classifier head)."""
    net = PretrainedBackbone(name, NO_WEIGHTS).net
    state = {k: v.clone().contiguous() for k, v in net.state_dict().items()}
    prefixed = {f"{net.base_model_prefix}.{k}": v for k, v in state.items()}
    prefixed["classifier.1.weight"] = torch.zeros(10, 4)
    save_file(prefixed, str(path))
    return path, state


def test_weights_load_from_a_local_file(tmp_path):
    path, state = hub_style_file("resnet18", tmp_path / "model.safetensors")
    loaded = PretrainedBackbone("resnet18", str(path)).net.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    fresh = PretrainedBackbone("resnet18", NO_WEIGHTS).net.state_dict()  # random: differs from the file
    assert not torch.equal(fresh["embedder.embedder.convolution.weight"], state["embedder.embedder.convolution.weight"])


def test_wrong_or_missing_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"no file at .*nothing.safetensors; download model.safetensors from"):
        PretrainedBackbone("resnet18", str(tmp_path / "nothing.safetensors"))
    path, _ = hub_style_file("resnet18", tmp_path / "resnet18.safetensors")
    with pytest.raises(ConfigError, match="lacks .* weights of another backbone"):
        PretrainedBackbone("resnet50", str(path))
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="junk.safetensors is not a weights file"):
        PretrainedBackbone("resnet18", str(tmp_path / "junk.safetensors"))
    with pytest.raises(ConfigError, match="model.backbone must be one of"):
        PretrainedBackbone("vgg", NO_WEIGHTS)


def test_a_backbone_trains_and_its_checkpoint_rebuilds_without_the_file(tmp_path):
    path, _ = hub_style_file("resnet18", tmp_path / "model.safetensors")
    cfg = compose_cfg(tmp_path / "run", "model.backbone=resnet18", f"model.backbone_weights={path}", "test=false")
    summary = train(cfg)
    path.unlink()  # prediction needs the checkpoint only
    module = load_checkpoint(summary.best_checkpoint)
    assert isinstance(module.model.backbone, PretrainedBackbone)
    out = module.eval()(torch.zeros(1, 3, module.codec.side, module.codec.side))
    assert torch.isfinite(out["coords"]).all()


@pytest.mark.slow
def test_offline_without_a_file_is_one_line_saying_what_to_download(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HYDRA_FULL_ERROR": "0"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *tiny("model.backbone=resnet18", "logger=csv")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model.backbone=resnet18"), result.stderr
    assert "https://huggingface.co/microsoft/resnet-18" in lines[0] and "model.backbone_weights=" in lines[0]
    assert not (tmp_path / "outputs").exists()  # nothing written half-way
