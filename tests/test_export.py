"""Exported models (ONNX, TorchScript) against the PyTorch checkpoint they came from."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import shared_or_skip

from seqattn.data.synthetic.walk import render_video
from seqattn.errors import ConfigError, DataError
from seqattn.evaluation.calibration import calibrate
from seqattn.export import export
from seqattn.export import main as export_main
from seqattn.inference.batch import load_checkpoint, predict_images
from seqattn.inference.exported import METADATA_KEY, OnnxModel
from seqattn.inference.predict import main as predict_main
from seqattn.inference.tables import H5_KEY
from seqattn.io.images import read_image

TOLERANCE_PX = 0.05  # exported against PyTorch, original pixels


@pytest.fixture(scope="module")
def checkpoint(checkpoint: str) -> Path:
    """The session's tiny checkpoint (conftest), as the Path that export() takes."""
    return Path(checkpoint)


@pytest.fixture(scope="module")
def onnx_file(checkpoint, tmp_path_factory) -> Path:
    return export(checkpoint, "onnx", tmp_path_factory.mktemp("exported") / "model.onnx")


def openfield_images(n: int = 8) -> list[np.ndarray]:
    frames = sorted((shared_or_skip("openfield") / "labeled-data").glob("*/*.png"))[:n]
    return [read_image(p) for p in frames]


def test_onnx_agrees_with_pytorch_on_the_openfield_images(checkpoint, onnx_file):
    images = openfield_images()
    torch_out = predict_images(load_checkpoint(checkpoint).eval(), images)
    onnx_out = predict_images(OnnxModel(onnx_file), images)  # the same letterbox and decoding around it
    deviation = np.abs(onnx_out["coords"] - torch_out["coords"]).max()
    assert deviation < TOLERANCE_PX, f"ONNX deviates {deviation:.4f} px from PyTorch"
    module = load_checkpoint(checkpoint)
    expected = np.clip(calibrate(torch_out["confidence"].astype(np.float64), module.calibration), 0, 1)
    np.testing.assert_allclose(onnx_out["confidence"], expected, atol=1e-4)  # the likelihood comes calibrated


def test_onnx_file_carries_what_a_user_needs(checkpoint, onnx_file):
    import onnx

    props = {p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}
    meta = json.loads(props[METADATA_KEY])
    module = load_checkpoint(checkpoint)
    assert meta["keypoint_names"] == module.keypoint_names
    assert meta["letterbox_side"] == module.codec.side
    model = OnnxModel(onnx_file)
    for batch in (1, 5):  # the batch size is free
        out = model.predict(torch.zeros(batch, 3, module.codec.side, module.codec.side))
        assert out["coords"].shape == (batch, len(module.keypoint_names), 2)


def test_torchscript_agrees_with_pytorch(checkpoint, tmp_path):
    path = export(checkpoint, "torchscript", tmp_path / "model.pt")
    extra = {f"{METADATA_KEY}.json": ""}
    scripted = torch.jit.load(str(path), _extra_files=extra)
    module = load_checkpoint(checkpoint).eval()
    side = json.loads(extra[f"{METADATA_KEY}.json"])["letterbox_side"]
    images = torch.randn(3, 3, side, side)
    coords, likelihood = scripted(images)
    with torch.no_grad():
        expected = module.predict(images)["coords"] * side - 0.5
    assert (coords - expected).abs().max() < TOLERANCE_PX
    assert likelihood.shape == (3, len(module.keypoint_names)) and ((likelihood >= 0) & (likelihood <= 1)).all()


def test_predict_with_the_onnx_engine_matches_pytorch_on_a_video(checkpoint, onnx_file, tmp_path):
    video = tmp_path / "walk.mp4"
    render_video(str(video), frames=12, width=64, height=48)
    predict_main([str(checkpoint), str(video), "--out", str(tmp_path / "torch")])
    predict_main([str(onnx_file), str(video), "--out", str(tmp_path / "onnx"), "--engine", "onnx"])
    a = pd.read_hdf(tmp_path / "torch" / "walk.h5", H5_KEY).to_numpy()
    b = pd.read_hdf(tmp_path / "onnx" / "walk.h5", H5_KEY).to_numpy()
    assert a.shape == b.shape == (12, 3 * 4)
    assert np.abs(a - b).max() < TOLERANCE_PX
    record = json.loads((tmp_path / "onnx" / "walk.json").read_text())
    assert record["engine"] == "onnx" and record["frames"] == 12


def test_an_export_that_fails_midway_leaves_no_file(checkpoint, tmp_path, monkeypatch, capsys):
    import onnx

    def cut_short(model, path):
        Path(path).write_bytes(b"half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx, "save", cut_short)
    with pytest.raises(SystemExit) as stop:
        export_main([str(checkpoint), "--out", str(tmp_path / "model.onnx")])
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "export" in err[0] and "No space left" in err[0]
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_bad_files_are_one_line_errors(checkpoint, onnx_file, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        export_main([str(tmp_path / "missing.ckpt")])
    assert stop.value.code == 2 and "missing.ckpt" in capsys.readouterr().err
    with pytest.raises(DataError, match="not a readable ONNX model"):
        OnnxModel(checkpoint)  # a checkpoint given to the ONNX engine
    with pytest.raises(ConfigError, match="no ONNX file"):
        OnnxModel(tmp_path / "nothing.onnx")


def test_a_model_of_several_animals_exports_both_stages_and_finds_the_same_animals(animals_run, tmp_path):
    from seqattn.data.codec import KeypointCodec, image_to_tensor
    from seqattn.data.synthetic.dataset import SyntheticSource
    from seqattn.inference.batch import ready_for_inference
    from seqattn.inference.full_frame import predict_animals

    checkpoint = Path(animals_run[0].best_checkpoint)
    with pytest.raises(ConfigError, match="several animals exports to ONNX only"):
        export(checkpoint, "torchscript", tmp_path / "m.pt")
    path = export(checkpoint, "onnx", tmp_path / "m.onnx")
    assert (tmp_path / "m.detector.onnx").is_file()
    engine = OnnxModel(path)
    module = ready_for_inference(load_checkpoint(checkpoint), "cpu", precision="fp32")
    assert engine.instances == module.instances
    frames = SyntheticSource(num_train=4, num_val=1, num_test=1, width=96, height=72, animals=2).frames()["train"]
    images = [frames.image(i) for i in range(4)]
    codec = KeypointCodec(module.instances.input_size)  # the detector's letterbox
    batch = torch.stack([image_to_tensor(codec.letterbox(img)[0]) for img in images])
    with torch.no_grad():
        assert torch.allclose(engine.detector(batch), module.detector(batch), atol=1e-3)  # the detector's logits
    for exported, checked in zip(predict_animals(engine, images), predict_animals(module, images), strict=True):
        assert len(exported.scores) == len(checked.scores)
        assert np.allclose(exported.coords, checked.coords, atol=0.05)
