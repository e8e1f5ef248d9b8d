"""LightningDataModule: raw samples -> letterboxed, (augmented), normalized tensors."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities import CombinedLoader
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue
from torch.utils.data import DataLoader, Dataset

from seqattn.data.base import Augment, KeypointSource, RawSplit
from seqattn.data.codec import Frame, Geometry, KeypointCodec, image_to_uint8, normalize
from seqattn.data.detector_frames import DetectorFrames
from seqattn.data.video_frames import UnlabelledFrames, find_videos
from seqattn.errors import ConfigError


class KeypointSamples(Dataset):
    """Letterboxes each raw sample once (cached if asked) and applies ``augment`` on every access.

    Items: ``image`` (3, S, S) uint8 (``model_inputs`` makes a batch's model input); ``keypoints``
    (K, 2) normalized, NaN where missing; ``visible`` (K,) bool; ``frame`` (6,) float32, the
    letterbox of the original image; ``frame_map`` (2, 2), what the augmentation did to directions
    (identity without one; the labels' offset follows it, seqattn.models.label_offset); ``index``.
    """

    def __init__(self, raw: RawSplit, codec: KeypointCodec, augment: Augment | None = None, cache: bool = True):
        self.raw, self.codec, self.augment = raw, codec, augment
        self._cache = [self._letterbox(i) for i in range(len(raw))] if cache else None

    def _letterbox(self, index: int) -> tuple[np.ndarray, Frame, np.ndarray]:
        sample = self.raw[index]
        image, frame = self.codec.letterbox(sample.image)
        return image, frame, self.codec.to_input_px(sample.keypoints, frame)

    def name(self, index: int) -> str:
        return self.raw[index].name

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image, frame, points = self._cache[index] if self._cache is not None else self._letterbox(index)
        frame_map = np.eye(2)
        if hasattr(self.augment, "transform"):  # KeypointAugment: also what it did to directions
            image, points, frame_map = self.augment.transform(image, points)
        elif self.augment is not None:
            image, points = self.augment(image, points)
        norm = self.codec.input_px_to_norm(points)
        visible = np.isfinite(norm).all(1)
        return {
            "image": image_to_uint8(image),
            "keypoints": torch.from_numpy(norm).float(),
            "visible": torch.from_numpy(visible),
            "frame": torch.from_numpy(frame.as_array()).float(),
            "frame_map": torch.from_numpy(frame_map).float(),
            "index": torch.tensor(index),
        }


def model_inputs(batch: Any) -> Any:
    """A batch of the loaders (a dict, or a dict of them) with its uint8 ``image`` and ``next``
    (B, 3, S, S) as the model's float input (``normalize``); run after the batch reached its device
    (``KeypointDataModule.on_after_batch_transfer``; scripts that read the loaders call it)."""
    if not isinstance(batch, dict):
        return batch
    return {
        key: normalize(value) if key in ("image", "next") and value.dtype == torch.uint8 else model_inputs(value)
        for key, value in batch.items()
    }


class Repeated(Dataset):
    """``base`` repeated to at least ``min_size`` items: small labelled sets still make epochs long
    enough for validation, checkpointing and early-stopping patience to mean something."""

    def __init__(self, base: Dataset, min_size: int) -> None:
        self.base, self.repeats = base, max(1, -(-min_size // max(1, len(base))))

    def __len__(self) -> int:
        return self.repeats * len(self.base)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.base[index % len(self.base)]


class KeypointDataModule(L.LightningDataModule):
    """Feeds ``image`` (B, 3, S', S'), ``keypoints`` (B, K, 2), ``visible`` (B, K) and ``frame`` (B, 6),
    S' the side of ``geometry``'s letterbox. Built from resolved values only (seqattn.training.adapt
    fills every ``auto`` first); nothing is changed after."""

    def __init__(
        self,
        source: KeypointSource,
        geometry: Geometry,
        batch_size: int = 32,
        eval_batch_size: int = 64,
        num_workers: int = 2,
        cache: bool = True,
        augment: Augment | None = None,
        pin_memory: bool = False,
        epoch_size: int = 1000,
        video_frames: Dataset | None = None,  # frame pairs of data.unlabelled's videos (build_datamodule)
        unlabelled_batch_size: int = 4,
        detector_frames: Dataset | None = None,  # whole training frames of several animals (build_datamodule)
    ) -> None:
        super().__init__()
        self.source = source
        self.geometry = geometry
        self.codec = geometry.codec()
        self.datasets: dict[str, KeypointSamples] = {}
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.cache = cache
        self.augment = augment
        self.pin_memory = pin_memory
        self.epoch_size = epoch_size
        self.video_frames, self.unlabelled_batch_size = video_frames, unlabelled_batch_size
        self.detector_frames = detector_frames

    @property
    def keypoint_names(self) -> list[str]:
        return list(self.source.keypoint_names)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return model_inputs(batch)  # the loaders' uint8 images -> the model's float input, on the device

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        for split, raw in self.source.splits().items():
            augment = self.augment if split == "train" else None
            self.datasets[split] = KeypointSamples(raw, self.codec, augment, self.cache)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self.datasets[split]
        if shuffle and self.epoch_size > len(dataset):
            dataset = Repeated(dataset, self.epoch_size)
        return DataLoader(
            dataset,
            batch_size=self.batch_size if shuffle else self.eval_batch_size,
            shuffle=shuffle,
            drop_last=shuffle and len(dataset) > self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.pin_memory,
        )

    def _beside(self, dataset: Dataset, batch_size: int, batches: int) -> DataLoader:
        """A loader of ``dataset`` with at least ``batches`` batches, beside the labelled one (the
        epoch keeps the labelled length; a plain shuffle, which Lightning turns into a
        DistributedSampler under DDP: a rank each)."""
        return DataLoader(
            Repeated(dataset, batches * batch_size),
            batch_size=batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.pin_memory,
        )

    def train_dataloader(self) -> DataLoader | CombinedLoader:
        labelled = self._loader("train", shuffle=True)
        loaders: dict[str, DataLoader] = {}
        if self.video_frames is not None:
            loaders["unlabelled"] = self._beside(self.video_frames, self.unlabelled_batch_size, len(labelled))
        if self.detector_frames is not None:  # whole frames for the detector: a quarter of the batch
            size = max(2, self.batch_size // 4)
            loaders["frames"] = self._beside(self.detector_frames, size, len(labelled))
        if not loaders:
            return labelled
        return CombinedLoader({"labelled": labelled, **loaders}, mode="min_size")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


def _plain_data(cfg: DictConfig) -> dict:
    """``cfg.data`` as plain values. Its ``path``/``split_file`` keys are user-facing shorthands that
    the source config interpolates; they are resolved here and not passed on."""
    try:
        data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        raise ConfigError(f"{exc.full_key} is required for this data config (e.g. {exc.full_key}=...)") from None
    for shorthand in ("path", "split_file"):
        data.pop(shorthand, None)
    return data


def build_source(cfg: DictConfig) -> KeypointSource:
    """The labelled source of ``cfg.data`` (its files read and checked), before anything else is built."""
    return instantiate(_plain_data(cfg)["source"])


def build_datamodule(
    cfg: DictConfig,
    geometry: Geometry,
    source: KeypointSource | None = None,
    augment: bool = True,
    detector_size: int | None = None,
) -> KeypointDataModule:
    """The data module of ``cfg.data`` (resolved: no ``auto`` left) for ``geometry``'s letterbox;
    ``source``: one built already (build_source); ``augment`` False: evaluation only, no augmentation;
    ``detector_size``: the detector's letterbox side, for a source of several animals in a frame."""
    data = _plain_data(cfg)
    source = source if source is not None else instantiate(data["source"])
    augment_cfg = data.pop("augment", None)
    data.pop("source")
    videos, frames, cache_mb = (data.pop(f"unlabelled{key}", None) for key in ("", "_frames", "_cache_mb"))
    if videos and augment:  # training: decode them now, before anything is trained
        data["video_frames"] = UnlabelledFrames(find_videos(videos), geometry.codec(), int(frames), float(cache_mb))
    built = instantiate(augment_cfg, flip_pairs=source.flip_pairs) if augment and augment_cfg else None
    if augment and detector_size and source.layout is not None:  # anchors need no left/right swap on a flip
        turned = instantiate(augment_cfg, flip_pairs=[]) if augment_cfg else None
        train = source.frames()["train"]
        codec = Geometry(detector_size).codec()
        data["detector_frames"] = DetectorFrames(
            train, codec, source.layout, source.keypoint_names, turned, data["cache"]
        )
    make = instantiate(data, _partial_=True)  # objects given at the call, not merged into the config
    return make(source=source, geometry=geometry, augment=built)
