"""Data-pipeline throughput (images/s) with and without the letterbox cache, against the rate at
which the model trains on CPU. Usage (any train.py overrides):

    python bench/data_throughput.py data=dlc data.path=../shared/data/openfield
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from seqattn.allocator import keep_large_buffers
from seqattn.data import Geometry, build_datamodule, build_source
from seqattn.module import KeypointModule
from seqattn.training.adapt import resolve_auto
from seqattn.training.data_stats import measure

CONF = Path(__file__).resolve().parents[1] / "conf"
BATCHES = 30


def loader_rate(cfg, cache: bool, workers: int) -> tuple[float, float]:
    """(seconds to set up, images/s over BATCHES training batches after the first)."""
    cfg = OmegaConf.merge(cfg, {"data": {"cache": cache, "num_workers": workers}})
    start = time.perf_counter()
    dm = build_datamodule(cfg.data, Geometry.for_model(cfg.input_size, cfg.model))
    dm.setup("fit")
    setup = time.perf_counter() - start
    it = iter(dm.train_dataloader())
    next(it)  # workers start
    n, start = 0, time.perf_counter()
    for _, batch in zip(range(BATCHES), it, strict=False):
        n += len(batch["image"])
    return setup, n / (time.perf_counter() - start)


def model_rate(cfg, keypoint_names: list[str]) -> float:
    """Training images/s of the model alone (forward + backward + step) on random input, in the
    precision training resolves to (``trainer.precision``: bf16 autocast or float32)."""
    module = KeypointModule(
        model=OmegaConf.to_container(cfg.model, resolve=True),
        loss=OmegaConf.to_container(cfg.loss, resolve=True),
        optimizer=OmegaConf.to_container(cfg.optimizer, resolve=True),
        input_size=cfg.input_size,
        keypoint_names=keypoint_names,
        **OmegaConf.to_container(cfg.supervision, resolve=True),
    )
    opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
    b, s, k = cfg.data.batch_size, module.codec.side, len(keypoint_names)  # the letterbox it is fed
    images, target = torch.randn(b, 3, s, s), torch.rand(b, k, 2)
    visible = torch.ones(b, k, dtype=torch.bool)
    n, start = 0, 0.0
    for step in range(BATCHES + 2):
        if step == 2:
            n, start = 0, time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.trainer.precision == "bf16-mixed"):
            loss = module.criterion(module(images), target, visible)["loss"]  # every term training pays for
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += b
    return n / (time.perf_counter() - start)


def main(overrides: list[str]) -> None:
    keep_large_buffers()  # as train.py
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    source = build_source(cfg.data)
    cfg, _ = resolve_auto(cfg, measure(source))  # input_size=auto etc., as train.py chooses them
    print(
        f"overrides: {' '.join(overrides) or '(defaults)'}; torch threads {torch.get_num_threads()}; "
        f"precision {cfg.trainer.precision}"
    )
    rows = []
    for cache in (True, False):
        for workers in (0, 2):
            setup, rate = loader_rate(cfg, cache, workers)
            rows.append((f"cache={cache} workers={workers}", setup, rate))
    names = list(source.keypoint_names)
    train_rate = model_rate(cfg, names)
    print("| pipeline | setup s | images/s | x model |\n|---|---|---|---|")
    for label, setup, rate in rows:
        print(f"| {label} | {setup:.1f} | {rate:.0f} | {rate / train_rate:.1f} |")
    print(f"| model training step alone (batch {cfg.data.batch_size}) | | {train_rate:.0f} | 1.0 |")


if __name__ == "__main__":
    main(sys.argv[1:])
