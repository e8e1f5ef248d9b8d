"""The precision predictions run in: bfloat16 where the chip computes it natively, else float32.

``--precision auto`` (predict.py) picks bf16 on a CUDA GPU that supports it and on a CPU with
native bf16 instructions (seqattn.hardware), float32 elsewhere, where bf16 would be emulated and
slower. bf16 runs the step-0 convolutions and attention and the glimpses' CNNs under
``torch.autocast``; the heat maps, the refinement steps' attention and corrections, the
soft-argmax, the coordinates, the confidence and the likelihood stay in float32
(seqattn.models.sequential).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from seqattn.errors import ConfigError
from seqattn.hardware import native_bf16

PRECISIONS = ("auto", "fp32", "bf16")


def choose_precision(requested: str, device: torch.device) -> tuple[str, str]:
    """(fp32 | bf16, the reason) for ``--precision`` on ``device``."""
    if requested not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested != "auto":
        return requested, "as asked (--precision)"
    native, why = native_bf16(device)
    return ("bf16" if native else "fp32"), why


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context predictions run in: bf16 autocast, or nothing for fp32."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@contextlib.contextmanager
def inference_precision(module) -> Iterator[None]:
    """``autocast`` for a module made ready by ready_for_inference (its ``precision``)."""
    with autocast(module.device, getattr(module, "precision", "fp32")):
        yield
