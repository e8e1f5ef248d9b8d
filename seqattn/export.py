"""``python -m seqattn.export <checkpoint> [--format onnx|torchscript] [--out FILE]``.

Writes a file that runs without the training stack (seqattn.inference.exported says what goes in
and comes out): ``<checkpoint stem>.onnx`` for onnxruntime, TensorRT and other ONNX runtimes, or
``<checkpoint stem>.pt`` for ``torch.jit.load``. The batch size is free; the image side is the
checkpoint's letterbox. A model of several animals also writes its detector,
``<stem>.detector.onnx`` beside it (ONNX only), named in the main file's metadata. Files are
written under temporary names and renamed when all are complete.
A bad option or checkpoint is one line ``error: ...`` and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqattn.data.codec import INPUT_MEAN, INPUT_STD
from seqattn.errors import ConfigError, UserError
from seqattn.evaluation.calibration import FALLBACK_PCUTOFF, calibrate_tensor
from seqattn.inference.batch import NO_CONFIDENCE_LIKELIHOOD, load_checkpoint
from seqattn.inference.exported import DETECTOR_OUTPUTS, INPUTS, METADATA_KEY, OUTPUTS
from seqattn.io.files import atomic_path, printable
from seqattn.models.flip import flip_averaged
from seqattn.module import KeypointModule

OPSET = 18  # GridSample and the attention ops; onnxruntime 1.16+ runs it


class Exportable(nn.Module):
    """A checkpoint's model with its output mapped to letterbox pixels and calibrated likelihood,
    averaged with the mirrored image's as the checkpoint predicts (``KeypointModule.predict``)."""

    def __init__(self, module: KeypointModule) -> None:
        super().__init__()
        self.model = module.model.eval()
        self.codec = module.codec
        self.calibration = module.calibration
        self.keypoints = len(module.keypoint_names)
        self.flip_pairs = module.flip_pairs
        self.label_offset = module.label_offset

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(images) if self.flip_pairs is None else flip_averaged(self.model, images, self.flip_pairs)
        coords = self.codec.norm_to_input_px(out["coords"] + self.label_offset())  # normalized -> letterbox px
        confidence = out.get("confidence")
        if confidence is None:  # a model without a confidence: every point kept, as predict.py writes
            return coords, torch.full(coords.shape[:2], NO_CONFIDENCE_LIKELIHOOD, dtype=coords.dtype)
        return coords, calibrate_tensor(confidence, self.calibration).clamp(0, 1)


class DetectorExportable(nn.Module):
    """A checkpoint's animal detector: letterboxed frames -> anchor logits."""

    def __init__(self, module: KeypointModule) -> None:
        super().__init__()
        self.detector = module.detector.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.detector(images)


def metadata(module: KeypointModule, checkpoint: Path) -> dict[str, Any]:
    """What a user of the exported file needs beside it (stored inside it)."""
    return {
        "keypoint_names": list(module.keypoint_names),
        "letterbox_side": module.codec.side,
        "input_size": int(module.hparams.input_size),
        "pcutoff": float((module.calibration or {}).get("pcutoff", FALLBACK_PCUTOFF)),
        "checkpoint": checkpoint.name,
        "checkpoint_epoch": module.checkpoint_epoch,
        "flip_averaged": module.flip_pairs is not None,
        "inputs": f"images (B, 3, S, S) float32 RGB, (value / 255 - {INPUT_MEAN}) / {INPUT_STD}, letterboxed with"
        " black padding",
        "outputs": "coords (B, K, 2) letterbox pixels (pixel centres at integers); likelihood (B, K)",
    }


def export(checkpoint: Path, fmt: str = "onnx", out: Path | None = None) -> Path:
    """Export ``checkpoint`` to ``out`` (default beside it); returns the path written."""
    if fmt not in ("onnx", "torchscript"):
        raise ConfigError(f"--format must be onnx or torchscript, got {fmt!r}")
    module = load_checkpoint(checkpoint, key="checkpoint").eval()
    if module.detector is not None and fmt != "onnx":
        raise ConfigError(f"{checkpoint}: a model of several animals exports to ONNX only (--format onnx)")
    out = out or checkpoint.with_suffix(".onnx" if fmt == "onnx" else ".pt")
    wrapped = Exportable(module).eval()
    example = torch.zeros(2, 3, module.codec.side, module.codec.side)
    described = metadata(module, checkpoint)
    detector_out = None if module.detector is None else out.with_name(f"{out.stem}.detector.onnx")
    if detector_out is not None:
        described["detector"] = {"file": detector_out.name, **asdict(module.instances)}
    meta = json.dumps(described)
    out.parent.mkdir(parents=True, exist_ok=True)
    second = atomic_path(detector_out) if detector_out is not None else nullcontext()
    with torch.no_grad(), atomic_path(out) as tmp, second as detector_tmp:
        if detector_out is not None:  # the detector's anchor logits (B, 1, D/4, D/4) of frames (B, 3, D, D)
            side = module.instances.input_size
            frames = torch.zeros(2, 3, side, side)
            _onnx(
                DetectorExportable(module),
                frames,
                detector_tmp,
                json.dumps({"detector_of": out.name}),
                DETECTOR_OUTPUTS,
            )
        if fmt == "onnx":
            _onnx(wrapped, example, tmp, meta)
        else:
            with warnings.catch_warnings():  # shape checks traced as constants: the side is fixed, the batch is not
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                traced = torch.jit.trace(wrapped, example, check_trace=False)
            torch.jit.save(traced, str(tmp), _extra_files={f"{METADATA_KEY}.json": meta})
    return out


def _onnx(wrapped: nn.Module, example: torch.Tensor, path: Path, meta: str, outputs: list[str] = OUTPUTS) -> None:
    try:
        import onnx
    except ImportError:
        raise ConfigError("--format onnx needs onnx and onnxscript: pip install 'seqattn[export]'") from None
    batch = torch.export.Dim("batch", min=1, max=4096)
    with _exporter_quiet():
        program = torch.onnx.export(
            wrapped,
            (example,),
            input_names=INPUTS,
            output_names=outputs,
            dynamic_shapes={"images": {0: batch}},
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
        )
    model = program.model_proto
    onnx.helper.set_model_props(model, {METADATA_KEY: meta})
    onnx.save(model, str(path))


@contextmanager
def _exporter_quiet() -> Iterator[None]:
    """Within: the ONNX exporter's own notes (torchvision ops it skips, constant folding it leaves,
    deprecations inside torch) are not printed; its errors still are, and still raise."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            for category in (FutureWarning, DeprecationWarning, UserWarning):
                warnings.simplefilter("ignore", category)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(
        prog="python -m seqattn.export",
        description="Export a checkpoint to a model file that runs without the training stack (ONNX or TorchScript).",
    )
    parser.add_argument("checkpoint", type=Path, help="a .ckpt written by train.py")
    parser.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    parser.add_argument("--out", type=Path, default=None, help="the file to write (default: beside the checkpoint)")
    args = parser.parse_args(argv)
    try:
        path = export(args.checkpoint, args.format, args.out)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - the exporter's own errors: one line, nothing written
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(
            f"error: the {args.format} export of {printable(args.checkpoint)} failed ({first[:300]})", file=sys.stderr
        )
        sys.exit(1)
    print(f"{args.format}: {printable(path)}")
    return path


if __name__ == "__main__":
    main()
