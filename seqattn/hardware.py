"""What the chip computes natively: bf16 on this CPU or GPU, found once and said with its reason.

Read by prediction (seqattn.inference.precision: ``--precision auto``) and by training
(seqattn.training.choices: ``trainer.precision: auto``). x86: the AVX-512 BF16 or AMX flags in
/proc/cpuinfo (Intel Sapphire Rapids and later, AMD Zen 4 and later); Arm: the BF16 extension;
Apple: M2 and later; CUDA: ``torch.cuda.is_bf16_supported()``. Elsewhere bf16 would be emulated
and slower than float32.
"""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from pathlib import Path

import torch

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


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` computes bf16 natively, and the reason."""
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return True, "a CUDA GPU with bf16"
        return False, "this CUDA GPU lacks bf16"
    if device.type == "cpu":
        return cpu_bf16()
    return False, f"{device.type}: float32"
