"""LightningModule: wires a keypoint model, its objective (seqattn.losses.criterion), the metrics in
original-image pixels (seqattn.evaluation.metrics), logging and the optimizer."""

from __future__ import annotations

import re
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate

from seqattn.data.codec import PADDING, Geometry
from seqattn.evaluation.calibration import fit_calibration
from seqattn.evaluation.metrics import METRIC_NAMES, BatchMeans, KeypointErrors, stage_metrics
from seqattn.evaluation.point_errors import PointErrors
from seqattn.losses import KeypointCriterion, UnlabelledTerms
from seqattn.losses.anchors import AnchorFocalLoss
from seqattn.models.detector import AnimalDetector, Instances
from seqattn.models.flip import flip_averaged
from seqattn.models.label_offset import LabelOffset
from seqattn.optim import optimizer_and_schedule

# The checkpoint format this version writes (``seqattn_format``); seqattn.checkpoint migrates older ones.
CHECKPOINT_FORMAT = 4
STAGES = ("train", "val", "test")
LOSS_TERMS = ("loss", "loss_x", "loss_y")  # logged per epoch as {stage}/loss, {stage}/loss_x, {stage}/loss_y
# What a run can monitor: a loss term or a metric, of train or val, as _log_metrics logs them.
MONITORABLE = re.compile(rf"(train|val)/({'|'.join(LOSS_TERMS)}|{METRIC_NAMES})")


class KeypointModule(L.LightningModule):
    """Wraps ``model`` (images -> {"coords": (B, K, 2), ...}) and the coordinate ``loss``, both given
    as plain configs, with the supervision weights of :class:`~seqattn.losses.KeypointCriterion`.

    Configs, not modules, are saved as hyperparameters, so ``load_from_checkpoint`` rebuilds the
    whole module from the checkpoint file alone. ``flip_pairs``: the left/right index pairs of a
    model trained with flips, whose validation, test and predictions average each image's output
    with the mirrored image's (:meth:`predict`); None: one pass.
    """

    def __init__(
        self,
        model: dict[str, Any],
        loss: dict[str, Any],
        optimizer: dict[str, Any],
        input_size: int,
        keypoint_names: list[str],
        scheduler: dict[str, Any] | None = None,
        pck_px: tuple[float, ...] = (2.0, 5.0, 10.0),
        confidence_weight: float = 0.1,
        confidence_scale: float = 0.02,
        step_weight_slope: float = 0.0,
        heatmap_weight: float = 0.1,
        heatmap_sigma: float = 1.0,
        channels_last: bool = False,
        unlabelled: dict[str, Any] | None = None,
        flip_pairs: list[list[int]] | None = None,
        detector: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.input_size = input_size
        # The letterbox the model is fed: hires_factor x input_size for a model that glimpses at
        # higher resolution (it downsamples for step 0); coordinates are normalized either way.
        self.geometry = Geometry.for_model(input_size, model)
        self.codec = self.geometry.codec()
        self.keypoint_names = list(keypoint_names)
        self.flip_pairs = None if flip_pairs is None else [list(map(int, p)) for p in flip_pairs]
        self.model = instantiate(model, num_keypoints=len(keypoint_names))
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format  # NHWC: GPU bf16
        self.model.to(memory_format=self.memory_format)
        self.label_offset = LabelOffset()  # where the labels sit from the landmarks: estimated
        # several animals in a frame: the detector of each animal's anchor, and the crop around it
        self.detector = None if detector is None else AnimalDetector(detector["channels"], detector["width"])
        self.instances = None if detector is None else Instances.of(detector)
        if self.detector is not None:
            self.detector.to(memory_format=self.memory_format)
        anchors = None if detector is None else AnchorFocalLoss(detector["sigma"], detector["weight"])
        self.criterion = KeypointCriterion(
            instantiate(loss), step_weight_slope, heatmap_weight, heatmap_sigma, confidence_weight, confidence_scale,
            unlabelled=UnlabelledTerms(**(unlabelled or {}), input_size=input_size, pad=PADDING), anchors=anchors,
        )  # fmt: skip
        self.metrics = torch.nn.ModuleDict(
            {f"{s}_errors": KeypointErrors(keypoint_names, tuple(pck_px)) for s in STAGES}
        )
        self.loss_means = torch.nn.ModuleDict({f"{stage}_loss": BatchMeans(LOSS_TERMS) for stage in STAGES})
        self.last_errors: dict[str, PointErrors] = {}  # each stage's last per-point errors, for callbacks
        self.checkpoint_epoch: int | None = None  # epoch of the checkpoint last loaded into this module
        self.calibration: dict[str, Any] | None = None  # the loaded checkpoint's scaling and pcutoff

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Called by load_from_checkpoint and by Trainer.test(ckpt_path=...): results can name their epoch.
        self.checkpoint_epoch = checkpoint.get("epoch")
        self.calibration = checkpoint.get("calibration")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["seqattn_format"] = CHECKPOINT_FORMAT
        # The likelihood scaling and pcutoff fitted on this epoch's validation predictions.
        if (points := self.last_errors.get("val")) is not None and len(points):
            checkpoint["calibration"] = fit_calibration(points)

    def forward(self, images: torch.Tensor, mirrored: bool = False) -> dict[str, torch.Tensor]:
        """``mirrored``: the prediction for ``images.flip(-1)`` (test-time flip; seqattn/models/flip.py)."""
        return self.model(images.contiguous(memory_format=self.memory_format), mirrored=mirrored)

    def predict(self, images: torch.Tensor, out: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """The prediction reported (validation, test, predict.py): ``out = self(images)``, averaged
        with the mirrored image's when ``flip_pairs`` is set (seqattn/models/flip.py), plus the
        labels' estimated offset (seqattn/models/label_offset.py)."""
        if self.flip_pairs is None:
            found = self(images) if out is None else out
        else:
            found = flip_averaged(self, images, self.flip_pairs, out)
        return {**found, "coords": found["coords"] + self.label_offset()}

    @property
    def loss(self) -> torch.nn.Module:  # the coordinate loss
        return self.criterion.coordinate_loss

    @property
    def loss_threshold(self) -> float | None:  # its threshold, normalized; None for losses without one
        return getattr(self.loss, "threshold", None)

    @property
    def threshold_px(self) -> float | None:  # in pixels of the step-0 input (input_size), as the run states it
        return None if self.loss_threshold is None else self.loss_threshold * self.input_size

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        out = self(batch["image"])
        target, visible = batch["keypoints"], batch["visible"]  # (B, K, 2), (B, K)
        # the model is trained towards the landmarks: the labels less their offset as each sample shows it
        frame_map = batch.get("frame_map")
        offset = self.label_offset(frame_map)  # (B, 1, 2) or (2,)
        terms = self.criterion(out, target - offset, visible)
        if stage == "train":
            reported = {**out, "coords": out["coords"] + offset}
            self.label_offset.update(target - out["coords"].detach(), visible, frame_map)
        else:
            reported = self.predict(batch["image"], out)
        pred, bs = reported["coords"], target.shape[0]  # (B, K, 2)
        if stage == "train":  # this process's batch, for the progress bar and the step curve
            self.log("train/loss_step", terms["loss"], on_step=True, on_epoch=False, batch_size=bs, prog_bar=True)
        self.loss_means[f"{stage}_loss"].update(tuple(terms[name] for name in LOSS_TERMS), bs)
        self.metrics[f"{stage}_errors"].update_normalized(
            self.codec, pred, target, visible, batch["frame"], batch["index"], reported.get("confidence")
        )
        return terms["loss"]

    def _log_metrics(self, stage: str) -> None:
        # The only collectives of an epoch end, made by every rank in this order (this hook runs on
        # all of them). Every value logged below is then equal on every rank, so nothing is logged
        # with sync_dist: see BatchMeans for the hang that would bring back.
        errors: KeypointErrors = self.metrics[f"{stage}_errors"]
        points = self.last_errors[stage] = errors.snapshot()
        means = self.loss_means[f"{stage}_loss"].compute()
        self.loss_means[f"{stage}_loss"].reset()
        measured = stage_metrics(points, errors.pck_px, self.loss_threshold, held_out=stage != "train")
        for name, value in {**means, **measured}.items():
            self.log(f"{stage}/{name}", value, prog_bar=name == "epe_px")
        errors.reset()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        if "labelled" not in batch:  # no data.unlabelled, one animal per frame
            return self._step(batch, "train")
        terms = {}
        if "unlabelled" in batch:
            terms.update(self.criterion.unlabelled(self, batch["unlabelled"]["image"], batch["unlabelled"]["next"]))
        if "frames" in batch:  # whole frames of several animals: the detector's term
            frames = batch["frames"]["image"].contiguous(memory_format=self.memory_format)
            terms["anchors"] = self.criterion.anchors(self.detector(frames), batch["frames"]["anchors"])
        size = len(batch["labelled"]["image"])
        self.log_dict({f"train/{k}": v for k, v in terms.items()}, on_step=False, on_epoch=True, batch_size=size)
        return self._step(batch["labelled"], "train") + sum(terms.values())

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def on_train_epoch_end(self) -> None:
        self._log_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    def configure_optimizers(self) -> Any:
        return optimizer_and_schedule(self.parameters(), self.hparams.optimizer, self.hparams.scheduler, self.trainer)
