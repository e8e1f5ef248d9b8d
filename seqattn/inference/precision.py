"""The precision predictions run in: bfloat16 where the chip computes it natively, else float32.

``--precision auto`` (predict.py) picks bf16 on a CUDA GPU that supports it and on a CPU with
native bf16 instructions (x86: AVX-512 BF16 or AMX; Arm: the BF16 extension, Apple M2 and later),
float32 elsewhere, where bf16 would be emulated and slower. bf16 runs the convolutions and
attention under ``torch.autocast``; the soft-argmax, the coordinates, the confidence and the
likelihood stay in float32 (seqattn.models.sequential.soft_argmax casts its heat maps up).
"""

from __future__ import annotations

import contextlib
import platform
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import torch

from seqattn.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")
X86_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bf16 arithmetic


@cache
def cpu_bf16() -> tuple[bool, str]:
    """Whether this CPU computes bf16 natively, and what says so."""
    machine = platform.machine().lower()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        words = set(cpuinfo.read_text(errors="replace").split())
        if machine in ("x86_64", "amd64"):
            found = [f for f in X86_BF16_FLAGS if f in words]
            return bool(found), f"CPU flags {', '.join(found)}" if found else "no AVX-512 BF16 or AMX on this CPU"
        if machine in ("aarch64", "arm64"):
            return "bf16" in words, "Arm BF16 extension" if "bf16" in words else "no Arm BF16 extension"
    if platform.system() == "Darwin" and machine == "arm64":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True)
            native = out.stdout.strip() == "1"
        except OSError:
            native = False
        return native, "Apple silicon with BF16" if native else "Apple silicon without BF16 (M1)"
    return False, f"bf16 support unknown on {machine or 'this machine'}"


def choose_precision(requested: str, device: torch.device) -> tuple[str, str]:
    """(fp32 | bf16, the reason) for ``--precision`` on ``device``."""
    if requested not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested != "auto":
        return requested, "as asked (--precision)"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "a CUDA GPU with bf16"
        return "fp32", "this CUDA GPU lacks bf16"
    if device.type == "cpu":
        native, why = cpu_bf16()
        return ("bf16" if native else "fp32"), why
    return "fp32", f"{device.type}: float32"


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
