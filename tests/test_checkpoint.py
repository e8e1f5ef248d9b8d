"""seqattn.checkpoint: checkpoints read as plain data, refused in one line when they carry code, are
broken or fit other data; earlier formats migrated."""

import json
import pathlib
import subprocess
from pathlib import Path

import pytest
import torch
from helpers import CONF, TINY, Payload, compose_cfg
from hydra import compose, initialize_config_dir

from seqattn.checkpoint import FORMAT, check_targets, module_from_checkpoint, read_checkpoint
from seqattn.errors import ConfigError
from seqattn.inference import predict
from seqattn.module import KeypointModule
from seqattn.training.evaluate import evaluate
from seqattn.training.resume import LAST_CHECKPOINT, resume_argv
from seqattn.training.train import train


def evil_copy(ckpt: pathlib.Path, dest: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    """``ckpt`` with a pickled payload added: it loads as before with weights_only=False."""
    data = torch.load(ckpt, map_location="cpu", weights_only=True)
    data["extra"] = Payload(marker)
    torch.save(data, dest)
    return dest


def test_checkpoints_carrying_code_are_refused_unrun(trained, tmp_path):
    marker = tmp_path / "ran"
    evil = evil_copy(trained / LAST_CHECKPOINT, tmp_path / "evil.ckpt", marker)
    with pytest.raises(ConfigError, match=r"init_from: .*evil.ckpt is not a plain checkpoint"):
        train(compose_cfg(tmp_path / "out", f"init_from={evil}"))
    assert not marker.exists() and not (tmp_path / "out").exists()

    # resume=: a payload in the run folder's last.ckpt, or in its best checkpoint
    run = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(trained), str(run)], check=True)
    evil_copy(trained / LAST_CHECKPOINT, run / LAST_CHECKPOINT, marker)
    with pytest.raises(ConfigError, match=r"resume: .*last.ckpt is not a plain checkpoint"):
        resume_argv([f"resume={run}"])
    best = next((run / "checkpoints").glob("best-epoch*.ckpt"))
    evil_copy(best, best, marker)
    with pytest.raises(ConfigError, match="not a plain checkpoint"):
        read_checkpoint(best)
    with pytest.raises(ConfigError, match="not a plain checkpoint"):
        module_from_checkpoint(best, "checkpoint")
    assert not marker.exists()


@pytest.mark.parametrize("setting", ["model", "loss", "optimizer", "scheduler"])
def test_a_plain_data_checkpoint_may_rebuild_only_the_projects_own_classes(trained, tmp_path, capsys, setting):
    written = tmp_path / "written.txt"
    data = torch.load(trained / LAST_CHECKPOINT, map_location="cpu", weights_only=True)
    data["hyper_parameters"][setting] = {"_target_": "numpy.savetxt", "_args_": [str(written), ["x"]]}
    forged = tmp_path / "forged.ckpt"
    torch.save(data, forged)
    read_checkpoint(forged)  # plain data: it passes weights_only
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    Image.new("RGB", (40, 32)).save(images / "a.png")
    with pytest.raises(SystemExit) as stopped:
        predict.main([str(forged), str(images)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'numpy.savetxt'" in err and "refused" in err
    assert not written.exists()


def test_nested_targets_are_refused_even_under_an_allowed_one():
    hparams = {"model": {"_target_": "seqattn.models.SequentialAttentionModel", "x": {"_target_": "os.system"}}}
    with pytest.raises(ConfigError, match="os.system"):
        check_targets(hparams, "f.ckpt")
    check_targets({"model": {"_target_": "seqattn.models.SequentialAttentionModel"}}, "f.ckpt")


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "is empty"),
        (b"not a checkpoint at all", "not a readable checkpoint"),
        ("truncated", "not a readable checkpoint"),
        ("foreign", "not a Lightning checkpoint"),
        ("other model", "not a seqattn checkpoint"),
    ],
)
@pytest.mark.parametrize("setting", ["init_from", "ckpt_path", "test_ckpt"])
def test_bad_checkpoint_files_are_one_line_before_anything_is_written(trained, tmp_path, content, words, setting):
    bad = tmp_path / "bad.ckpt"
    if content == "truncated":
        whole = (trained / LAST_CHECKPOINT).read_bytes()
        bad.write_bytes(whole[: len(whole) // 2])
    elif content == "foreign":
        torch.save({"weights": torch.zeros(3)}, bad)
    elif content == "other model":
        torch.save({"state_dict": {"w": torch.zeros(3)}, "epoch": 1}, bad)
    else:
        bad.write_bytes(content)
    with pytest.raises(ConfigError, match=f"{setting}: .*bad.ckpt .*{words}"):
        train(compose_cfg(tmp_path / "out", f"{setting}={bad}"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("setting", ["init_from", "ckpt_path", "test_ckpt"])
def test_a_checkpoint_for_other_keypoints_is_one_line(trained, tmp_path, setting):
    ckpt = trained / LAST_CHECKPOINT
    with pytest.raises(ConfigError, match=f"{setting}: .* was trained on 4 keypoints .* this data has 3"):
        train(compose_cfg(tmp_path / "out", "data.source.num_keypoints=3", f"{setting}={ckpt}"))
    assert not (tmp_path / "out").exists()


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


DATA = Path(__file__).parent / "files"


def test_a_checkpoint_written_before_the_format_3_change_evaluates_to_its_own_figure(tmp_path):
    # tests/files/format2_tiny.ckpt was trained and tested by seqattn at commit aa4ed51 (format 2:
    # glimpse_source and pixel_glimpses_up_to in the model, the schedule in seqattn.schedule);
    # format2_tiny.json holds the test figures that run wrote.
    recorded = json.loads((DATA / "format2_tiny.json").read_text())
    data = [o for o in TINY if o.startswith("data.")]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "eval",
            overrides=[
                *data,
                "logger=csv",
                "trainer.precision=32-true",  # the precision its figures were made in
                f"paths.output_dir={tmp_path}",
                f"ckpt_path={DATA / 'format2_tiny.ckpt'}",
            ],
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
