"""Checkpoints of earlier formats load through the migration: settings their version left to
constructor defaults that have changed since are filled in with the values of their time."""

import json
from pathlib import Path

import pytest
import torch
from conftest import CONF, TINY
from hydra import compose, initialize_config_dir

from seqattn.checkpoint import FORMAT, module_from_checkpoint, read_checkpoint
from seqattn.errors import ConfigError
from seqattn.module import KeypointModule
from seqattn.training.evaluate import evaluate

MODEL = {
    "_target_": "seqattn.models.SequentialAttentionModel",
    "channels": [8, 8, 16],
    "width": 16,
    "heads": 2,
    "steps": 1,
    "glimpse_size": 8,
    "hires_factor": 1,
}


def format_1_checkpoint(path) -> KeypointModule:
    """A checkpoint as format 1 wrote it: no format stamp, and the model's settings without
    ``context_layers`` and ``glimpse_source`` (the constructor's defaults then: 0 and pixels)."""
    module = KeypointModule(
        model={**MODEL, "context_layers": 0, "glimpse_source": "pixels"},
        loss={"_target_": "seqattn.losses.hinge_loss", "input_size": 32},
        optimizer={"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-3},
        input_size=32,
        keypoint_names=["a", "b", "c"],
    ).eval()
    hparams = dict(module.hparams)
    hparams["model"] = dict(MODEL)  # as saved then: the two settings absent
    hparams.pop("heatmap_weight")  # no heat-map term then
    hparams["scheduler"] = {"_target_": "seqattn.module.warmup_cosine", "_partial_": True}  # its home then
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": hparams, "epoch": 3}, path)
    return module


def test_a_format_1_checkpoint_rebuilds_the_model_it_was_trained_as(tmp_path):
    original = format_1_checkpoint(tmp_path / "old.ckpt")
    ckpt = read_checkpoint(tmp_path / "old.ckpt")
    assert ckpt["seqattn_format"] == FORMAT
    assert ckpt["hyper_parameters"]["model"]["context_layers"] == 0
    assert ckpt["hyper_parameters"]["model"]["glimpse_source"] == "pixels"

    rebuilt = module_from_checkpoint(tmp_path / "old.ckpt").eval()
    assert rebuilt.model.glimpse_source == "pixels"
    assert "heatmap" not in rebuilt.criterion.terms  # trained without it
    assert rebuilt.hparams.scheduler["_target_"] == "seqattn.optim.warmup_cosine"
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(rebuilt(images)["coords"], original(images)["coords"])


def test_without_the_migration_the_current_defaults_would_not_fit(tmp_path):
    format_1_checkpoint(tmp_path / "old.ckpt")
    raw = torch.load(tmp_path / "old.ckpt", weights_only=True)
    current = KeypointModule(**{**raw["hyper_parameters"], "model": dict(MODEL), "scheduler": None})  # today's defaults
    with pytest.raises(RuntimeError):  # the image-context layer's weights are not in the file
        current.load_state_dict(raw["state_dict"])


def test_a_newer_format_is_refused_in_one_line(tmp_path):
    format_1_checkpoint(tmp_path / "old.ckpt")
    raw = torch.load(tmp_path / "old.ckpt", weights_only=True)
    raw["seqattn_format"] = FORMAT + 1
    torch.save(raw, tmp_path / "new.ckpt")
    with pytest.raises(ConfigError, match=r"new.ckpt: checkpoint format \d+ is newer"):
        read_checkpoint(tmp_path / "new.ckpt")


DATA = Path(__file__).parent / "data"


def test_a_checkpoint_written_before_the_format_3_change_evaluates_to_its_own_figure(tmp_path):
    # tests/data/format2_tiny.ckpt was trained and tested by seqattn at commit aa4ed51 (format 2:
    # glimpse_source and pixel_glimpses_up_to in the model, the schedule in seqattn.schedule);
    # format2_tiny.json holds the test figures that run wrote.
    recorded = json.loads((DATA / "format2_tiny.json").read_text())
    data = [o for o in TINY if o.startswith("data.")]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "eval",
            overrides=[*data, "logger=csv", f"paths.output_dir={tmp_path}", f"ckpt_path={DATA / 'format2_tiny.ckpt'}"],
        )
    result = evaluate(cfg)
    assert result.metrics["test/epe_px"] == pytest.approx(recorded["test/epe_px"], abs=1e-4)
    assert result.metrics["test/p90_px"] == pytest.approx(recorded["test/p90_px"], abs=1e-4)


def test_a_checkpoint_of_a_removed_option_names_the_commit_that_had_it(tmp_path):
    raw = torch.load(DATA / "format2_tiny.ckpt", weights_only=True)
    raw["hyper_parameters"]["model"]["peak_radius"] = 2
    torch.save(raw, tmp_path / "peak.ckpt")
    with pytest.raises(ConfigError, match=r"peak.ckpt: .*peak read-out .* at commit aa4ed51"):
        read_checkpoint(tmp_path / "peak.ckpt")
    raw["hyper_parameters"]["model"] = {"_target_": "seqattn.models.QueryDecoderModel", "channels": [4]}
    torch.save(raw, tmp_path / "decoder.ckpt")
    with pytest.raises(ConfigError, match=r"decoder.ckpt: .*query decoder .* at commit aa4ed51"):
        read_checkpoint(tmp_path / "decoder.ckpt")
