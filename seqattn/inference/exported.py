"""Models that run without the training stack: ONNX (onnxruntime) and TorchScript files.

An exported file takes a batch of letterboxed images and returns, per keypoint, the position in
letterbox pixels and the calibrated likelihood:

    images      (B, 3, S, S) float32, RGB scaled as (value / 255 - 0.5) / 0.25, black padding
    coords      (B, K, 2)    float32, letterbox pixels, pixel centres at integers
    likelihood  (B, K)       float32, the checkpoint's calibrated likelihood (P(error <= 5 px))

S is the checkpoint's letterbox side (``hires_factor`` x ``input_size``). What is needed to make
the letterbox and map coordinates back to the original image (S, the keypoint names, the
pcutoff) is stored in the file: ONNX metadata properties, a TorchScript file's extra file
``seqattn.json``. ``OnnxModel`` runs an ONNX file behind the interface predict.py uses for a
checkpoint (``predict.py --engine onnx``); it needs onnxruntime and numpy, not Lightning. The
files are written by seqattn.export. A model of several animals comes with its detector's file
(frames letterboxed at the detector's side -> anchor logits), which ``OnnxModel`` runs as the
checkpoint's ``detector``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from seqattn.data.codec import KeypointCodec
from seqattn.errors import ConfigError, DataError
from seqattn.models.detector import Instances

METADATA_KEY = "seqattn"  # ONNX metadata property / TorchScript extra file (``seqattn.json``) holding it
INPUTS, OUTPUTS = ["images"], ["coords", "likelihood"]
DETECTOR_OUTPUTS = ["anchors"]  # a model of several animals: its detector's file, named in the metadata


def _session(onnxruntime, path: Path, threads: int | None):
    """An onnxruntime session of ``path`` on the CPU; a DataError naming it when it cannot load."""
    if not path.is_file():
        raise ConfigError(f"--engine onnx: no ONNX file at {path} (write one: python -m seqattn.export <ckpt>)")
    options = onnxruntime.SessionOptions()
    # idle threads sleep instead of spinning: on a 2-core CPU spinning threads starve the decoding
    # thread and stall single frames (docs/history.md, "exported models")
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own error types for files it cannot load
        raise DataError(f"{path}: not a readable ONNX model ({str(exc).splitlines()[0]})") from None


class _Hparams:
    def __init__(self, input_size: int) -> None:
        self.input_size = input_size


class OnnxModel:
    """An exported ONNX file run by onnxruntime on the CPU, with what predict.py reads of a
    KeypointModule: ``codec``, ``keypoint_names``, ``calibration`` (None: the likelihood comes
    calibrated), ``hparams.input_size``, ``checkpoint_epoch``, ``device`` and ``predict`` on a batch
    (averaged with the mirrored batch inside the file when its checkpoint's predictions are)."""

    engine = "onnx"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ConfigError(
                "--engine onnx needs onnxruntime: pip install 'seqattn[export]' (or pip install onnxruntime)"
            ) from None
        self.session = _session(onnxruntime, path, threads)
        found = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if found is None:
            raise DataError(
                f"{path}: an ONNX model without seqattn's metadata (write it with python -m seqattn.export)"
            )
        self.meta = json.loads(found)
        self.codec = KeypointCodec(int(self.meta["letterbox_side"]))
        self.keypoint_names = list(self.meta["keypoint_names"])
        self.hparams = _Hparams(int(self.meta["input_size"]))
        self.checkpoint_epoch = self.meta.get("checkpoint_epoch")
        self.calibration = {"pcutoff": self.meta["pcutoff"]}  # no Platt scaling: the file applies it
        self.device = torch.device("cpu")
        self.memory_format = torch.contiguous_format
        self.detector, self.instances = None, None
        if "detector" in self.meta:  # several animals: the detector's file beside this one
            described = self.meta["detector"]
            self.instances = Instances(
                **{k: described[k] for k in ("input_size", "crop_px", "max_animals", "min_score", "anchor")}
            )
            self._detector = _session(onnxruntime, path.parent / described["file"], threads)
            self.detector = self._detect

    def _detect(self, frames: torch.Tensor) -> torch.Tensor:
        (logits,) = self._detector.run(DETECTOR_OUTPUTS, {INPUTS[0]: frames.float().contiguous().numpy()})
        return torch.from_numpy(logits)

    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        coords, likelihood = self.session.run(OUTPUTS, {INPUTS[0]: images.float().contiguous().numpy()})
        norm = self.codec.input_px_to_norm(coords)  # letterbox pixels -> the codec's normalized units
        return {"coords": torch.from_numpy(norm), "confidence": torch.from_numpy(likelihood)}
