"""One tiny training run, then what it leaves on disk, eval on its best checkpoint and predict on plain images."""

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import CONF, ROOT, TINY, compose_cfg
from hydra import compose, initialize_config_dir

from seqattn.data import build_datamodule
from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.errors import ConfigError, DataError
from seqattn.evaluation.report import num
from seqattn.inference import load_checkpoint
from seqattn.inference.cli import main as predict_main
from seqattn.io.images import read_image
from seqattn.training.evaluate import evaluate
from seqattn.training.evaluate import main as eval_main
from seqattn.training.train import train

# The tiny data and trainer settings, for eval (which takes input_size from the checkpoint).
EVAL_TINY = [o for o in TINY if o.startswith(("data.", "trainer.", "logger=")) and "max_epochs" not in o]
SOURCE = {"num_test": 8, "width": 40, "height": 32, "num_keypoints": 4}  # as in TINY


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(summary, run folder) of a 3-epoch tiny run, validation pictures every epoch."""
    out = tmp_path_factory.mktemp("train") / "run"
    summary = train(compose_cfg(out, "trainer.max_epochs=3", "callbacks.error_overlays.every_n_epochs=1"))
    return summary, out


def eval_cfg(output_dir: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("eval", overrides=[*EVAL_TINY, f"paths.output_dir={output_dir}", *overrides])


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_run_folder_holds_test_tables_pictures_and_report(run):
    summary, out = run
    names = SyntheticSource(**SOURCE).keypoint_names
    epe = summary.test_metrics["test/epe_px"]

    saved = json.loads((out / "test_metrics.json").read_text())
    assert saved["checkpoint"] == summary.best_checkpoint == summary.test_checkpoint
    assert saved["checkpoint_epoch"] == summary.best_epoch
    assert saved["metrics"] == pytest.approx(summary.test_metrics)
    assert saved["num_images"] == SOURCE["num_test"]

    per_kp = read_rows(out / "test_per_keypoint.csv")
    assert [r["keypoint"] for r in per_kp] == names
    for r in per_kp:
        assert r["checkpoint"] == summary.best_checkpoint and int(r["checkpoint_epoch"]) == summary.best_epoch
        assert float(r["epe_px"]) == pytest.approx(summary.test_metrics[f"test/epe_px/{r['keypoint']}"], abs=1e-3)
    counts = [int(r["count"]) for r in per_kp]
    assert sum(c * float(r["epe_px"]) for c, r in zip(counts, per_kp, strict=True)) / sum(counts) == pytest.approx(
        epe, abs=1e-3
    )

    per_image = read_rows(out / "test_per_image.csv")
    assert [r["image"] for r in per_image] == [f"synthetic/test/{i:06d}" for i in range(SOURCE["num_test"])]
    cells = [[float(r[f"{n}_px"]) for n in names if r[f"{n}_px"]] for r in per_image]
    assert [int(r["labelled"]) for r in per_image] == [len(c) for c in cells]
    assert [float(r["mean_px"]) for r in per_image] == pytest.approx([np.mean(c) for c in cells], abs=1e-3)
    assert np.mean([e for c in cells for e in c]) == pytest.approx(epe, abs=1e-3)
    assert {r["checkpoint"] for r in per_image} == {summary.best_checkpoint}

    for name in ("val_epoch000", "val_epoch001", "val_epoch002", "test_worst"):
        picture = read_image(out / "viz" / f"{name}.png")
        assert picture.shape[0] > 100 and picture.shape[1] > 300

    history = read_rows(out / "history.csv")
    assert [int(r["epoch"]) for r in history] == [0, 1, 2]
    assert all(r["train/epe_px"] and r["val/loss"] and r["lr"] for r in history)
    # the history's validation EPE at the best epoch is the checkpoint's monitored score
    assert float(history[summary.best_epoch]["val/epe_px"]) == pytest.approx(summary.best_score)
    report = (out / "report.md").read_text()
    saved_summary = json.loads((out / "summary.json").read_text())
    assert f"{num(saved_summary['best_score'])} px at epoch {saved_summary['best_epoch']}" in report
    assert f"| test/epe_px | {num(saved_summary['test_metrics']['test/epe_px'])} |" in report
    assert saved_summary["stop_reason"] in report and "learning_curve.png" in report
    assert read_image(out / "learning_curve.png").std() > 0


def test_eval_reproduces_the_test_metrics_and_files(run, tmp_path):
    summary, _ = run
    result = evaluate(eval_cfg(tmp_path / "eval", f"ckpt_path={summary.best_checkpoint}"))
    assert result.checkpoint_epoch == summary.best_epoch
    assert result.metrics["test/epe_px"] == pytest.approx(summary.test_metrics["test/epe_px"], rel=1e-5)
    saved = json.loads((tmp_path / "eval" / "test_metrics.json").read_text())
    assert saved["checkpoint"] == summary.best_checkpoint and saved["checkpoint_epoch"] == summary.best_epoch
    assert len(read_rows(tmp_path / "eval" / "test_per_image.csv")) == SOURCE["num_test"]
    assert (tmp_path / "eval" / "test_per_keypoint.csv").is_file()
    assert (tmp_path / "eval" / "viz" / "test_worst.png").is_file()
    calibration = json.loads((tmp_path / "eval" / "test_calibration.json").read_text())  # the run's, again
    assert calibration["auroc"] == pytest.approx(summary.test_metrics["test/likelihood_auroc"], rel=1e-5)
    assert (tmp_path / "eval" / "test_calibration.png").is_file()


@pytest.mark.parametrize(
    "override, error, words",
    [
        ("data.source.num_keypoints=3", DataError, "keypoint names of the data (snout, left_ear, right_ear) differ"),
        ("input_size=64", ConfigError, "input_size=64 differs from the checkpoint's 32"),
    ],
)
def test_eval_rejects_data_that_does_not_fit_the_checkpoint(run, tmp_path, override, error, words):
    with pytest.raises(error, match=r"^" + words.replace("(", r"\(").replace(")", r"\)")):
        evaluate(eval_cfg(tmp_path, f"ckpt_path={run[0].best_checkpoint}", override))


@pytest.mark.slow
def test_eval_cli_prints_the_table(run, tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    cmd = [sys.executable, str(ROOT / "eval.py"), *EVAL_TINY, f"hydra.run.dir={tmp_path}"]
    result = subprocess.run([*cmd, f"ckpt_path={run[0].best_checkpoint}"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test/epe_px" in result.stdout and f"(epoch {run[0].best_epoch})" in result.stdout
    assert (tmp_path / "test_metrics.json").is_file()


def test_eval_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        eval_main(eval_cfg(tmp_path, f"ckpt_path={tmp_path / 'nope.ckpt'}"))
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: ckpt_path: no checkpoint file at {tmp_path}/nope.ckpt"
    with pytest.raises(ConfigError, match="^ckpt_path is required"):
        evaluate(eval_cfg(tmp_path))
    (tmp_path / "notes.ckpt").write_text("not a checkpoint")
    with pytest.raises(ConfigError, match=f"^ckpt_path: {tmp_path}/notes.ckpt is not a readable checkpoint"):
        evaluate(eval_cfg(tmp_path, f"ckpt_path={tmp_path / 'notes.ckpt'}"))


def test_predict_writes_deeplabcut_csv_in_original_pixels(run, tmp_path):
    summary, _ = run
    images = tmp_path / "images"
    images.mkdir()
    raw = SyntheticSource(**SOURCE).splits()["test"]
    for i in range(3):  # original size, lossless: must give exactly the test-time predictions
        cv2.imwrite(str(images / f"img{i}.png"), raw[i].image[:, :, ::-1])
    big = cv2.resize(raw[0].image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)  # 80x64, not 40x32
    cv2.imwrite(str(images / "twice.png"), big[:, :, ::-1])
    cv2.imwrite(str(images / "grey.jpg"), cv2.cvtColor(raw[1].image, cv2.COLOR_RGB2GRAY))
    (images / "notes.txt").write_text("not an image")

    paths = predict_main([summary.best_checkpoint, str(images), "--batch-size", "2", "--overlays"])
    out = images / "predictions"

    with paths["csv"].open(newline="") as f:
        rows = list(csv.reader(f))
    scorer, bodyparts, coords = rows[:3]
    names = SyntheticSource(**SOURCE).keypoint_names
    assert scorer[0] == "scorer" and len(set(scorer[1:])) == 1
    assert bodyparts == ["bodyparts", *[n for n in names for _ in range(3)]]
    assert coords == ["coords", *["x", "y", "likelihood"] * len(names)]
    table = {r[0]: np.array(r[1:], float).reshape(len(names), 3) for r in rows[3:]}
    assert sorted(table) == ["grey.jpg", "img0.png", "img1.png", "img2.png", "twice.png"]
    likelihood = np.stack([t[:, 2] for t in table.values()])
    assert ((likelihood >= 0) & (likelihood <= 1)).all()  # the model's confidence

    # the same images through Trainer.test give the same original-pixel predictions
    tested = evaluate(eval_cfg(tmp_path / "eval", f"ckpt_path={summary.best_checkpoint}")).errors
    for i in range(3):
        assert table[f"img{i}.png"][:, :2] == pytest.approx(tested.pred_px[tested.row_of(i)].numpy(), abs=1e-3)
    # twice the size: pixel edges scale by 2, so x' = 2 (x + 0.5) - 0.5 (up to resampling noise)
    assert table["twice.png"][:, :2] == pytest.approx(2 * (table["img0.png"][:, :2] + 0.5) - 0.5, abs=0.3)

    saved = json.loads(paths["json"].read_text())
    assert saved["checkpoint_epoch"] == summary.best_epoch and saved["keypoint_names"] == names
    twice = next(i for i in saved["images"] if i["image"].endswith("twice.png"))
    assert (twice["width"], twice["height"]) == (80, 64)
    assert [twice["keypoints"][n]["x"] for n in names] == pytest.approx(table["twice.png"][:, 0].tolist())
    assert twice["keypoints"][names[0]]["confidence"] == pytest.approx(table["twice.png"][0, 2], abs=1e-4)
    assert sorted(p.name for p in (out / "overlays").iterdir()) == [
        "grey.jpg.png",
        "img0.png",
        "img1.png",
        "img2.png",
        "twice.png",
    ]


def test_predict_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        predict_main([str(tmp_path / "missing.ckpt"), str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: images: no png/jpg/jpeg/bmp/tif/tiff files in {tmp_path}"


def test_bench_step_errors_end_at_the_test_error(run, tmp_path):
    spec = importlib.util.spec_from_file_location("step_errors", ROOT / "bench" / "step_errors.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    summary, _ = run
    module = load_checkpoint(summary.best_checkpoint).eval()
    datamodule = build_datamodule(compose_cfg(tmp_path).data, module.geometry, augment=False)
    datamodule.setup("test")
    errors = bench.step_errors(module, datamodule.test_dataloader())
    steps = [str(t) for t in range(1 + module.model.steps)]  # step 0 and every refinement step
    assert list(errors) == steps + (["flip-averaged"] if module.flip_pairs is not None else [])
    reported = list(errors.values())[-1]
    assert reported.mean().item() == pytest.approx(summary.test_metrics["test/epe_px"], rel=1e-4)
