"""Test results on disk: test_metrics.json, test_per_keypoint.csv, test_per_image.csv and, for a
model with a confidence output, test_calibration.json and test_calibration.png.

Each file names the checkpoint (path and epoch) that produced it. Errors are in original-image
pixels; a keypoint that is not labelled in an image has an empty cell (CSV) or null (JSON).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from seqattn.data.datamodule import KeypointSamples
from seqattn.evaluation.calibration import calibration_table, plot_reliability
from seqattn.evaluation.metrics import KeypointErrors
from seqattn.evaluation.point_errors import PointErrors
from seqattn.io.files import write_csv, write_json
from seqattn.module import KeypointModule

METRICS_FILE = "test_metrics.json"
PER_KEYPOINT_FILE = "test_per_keypoint.csv"
PER_IMAGE_FILE = "test_per_image.csv"
CALIBRATION_FILE = "test_calibration.json"
CALIBRATION_PLOT = "test_calibration.png"


def _cell(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.4f}"


def _json_safe(value: Any) -> Any:
    """NaN is not JSON: write null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    return write_csv(path, [header, *rows])


def write_test_results(
    output_dir: Path,
    module: KeypointModule,
    dataset: KeypointSamples,
    metrics: dict[str, float],
    checkpoint: str | None,
    checkpoint_epoch: int | None,
    full_frame: dict[str, Any] | None = None,
) -> list[Path]:
    """Write the three test result files into ``output_dir`` after ``Trainer.test``; returns their paths.

    module: the tested module, holding the per-point errors (``last_errors["test"]``) and the
    metric's PCK radii and threshold; dataset: the test split (image names by index); metrics:
    ``Trainer.test``'s result, as logged; full_frame: labels with several animals, the whole
    pipeline on the test split's frames (seqattn.training.full_frame_test).
    """
    points: PointErrors = module.last_errors["test"]
    errors: KeypointErrors = module.metrics["test_errors"]
    output_dir.mkdir(parents=True, exist_ok=True)
    source = [checkpoint or "", "" if checkpoint_epoch is None else checkpoint_epoch]
    per_keypoint = points.per_keypoint(errors.pck_px, module.loss_threshold)

    summary = {
        "checkpoint": checkpoint,
        "checkpoint_epoch": checkpoint_epoch,
        "num_images": len(points),
        "num_labelled_points": int(points.visible.sum()),
        "units": "original-image pixels",
        "metrics": {k: float(v) for k, v in sorted(metrics.items())},
        "per_keypoint": per_keypoint,
        **({"full_frame": full_frame} if full_frame is not None else {}),
    }
    json_path = output_dir / METRICS_FILE
    write_json(json_path, _json_safe(summary))

    stat_keys = [k for k in next(iter(per_keypoint.values())) if k != "count"] if per_keypoint else []
    kp_path = _write_csv(
        output_dir / PER_KEYPOINT_FILE,
        ["keypoint", "count", *stat_keys, "checkpoint", "checkpoint_epoch"],
        [[name, row["count"], *(_cell(row[k]) for k in stat_keys), *source] for name, row in per_keypoint.items()],
    )

    dist, mean = points.distances(), points.per_image()  # (N, K), (N,)
    image_rows = [
        [
            int(points.index[i]),
            dataset.name(int(points.index[i])),
            int(points.visible[i].sum()),
            _cell(float(mean[i])),
            *(_cell(float(d)) for d in dist[i]),
            *source,
        ]
        for i in range(len(points))
    ]
    image_path = _write_csv(
        output_dir / PER_IMAGE_FILE,
        ["index", "image", "labelled", "mean_px", *(f"{n}_px" for n in points.keypoint_names)]
        + ["checkpoint", "checkpoint_epoch"],
        image_rows,
    )
    written = [json_path, kp_path, image_path]
    calibration = getattr(module, "calibration", None)
    table = calibration_table(points, calibration=calibration)  # of the likelihood predict.py writes
    if table["points"]:
        record = {"checkpoint": checkpoint, "checkpoint_epoch": checkpoint_epoch, **table}
        raw = calibration_table(points)
        record["raw_confidence"] = {
            "expected_calibration_error": raw["expected_calibration_error"],
            "deciles": raw["deciles"],
        }
        record["pcutoff_from_validation"] = calibration
        write_json(output_dir / CALIBRATION_FILE, _json_safe(record))
        title = f"test, epoch {checkpoint_epoch}" if checkpoint_epoch is not None else "test"
        written += [output_dir / CALIBRATION_FILE, plot_reliability(table, output_dir / CALIBRATION_PLOT, title)]
    return written
