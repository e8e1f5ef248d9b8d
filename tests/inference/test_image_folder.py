"""seqattn.inference.image_folder: predict.py on a folder of images."""

import csv
import json

import cv2
import numpy as np
import pytest
from helpers import SOURCE, compose_cfg, eval_cfg

from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.errors import DataError
from seqattn.inference.predict import main as predict_main
from seqattn.io.images import declared_size, read_image
from seqattn.training.evaluate import evaluate
from seqattn.training.train import train


def test_predict_writes_deeplabcut_csv_in_original_pixels(tiny_run, tmp_path):
    summary, _ = tiny_run
    images = tmp_path / "images"
    images.mkdir()
    raw = SyntheticSource(**SOURCE).splits()["test"]
    for i in range(3):  # original size, lossless: must give exactly the test-time predictions
        cv2.imwrite(str(images / f"img{i}.png"), raw[i].image[:, :, ::-1])
    big = cv2.resize(raw[0].image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)  # 80x64, not 40x32
    cv2.imwrite(str(images / "twice.png"), big[:, :, ::-1])
    cv2.imwrite(str(images / "grey.jpg"), cv2.cvtColor(raw[1].image, cv2.COLOR_RGB2GRAY))
    (images / "notes.txt").write_text("not an image")

    # float32 as the test's own predictions (--precision auto may pick bf16: tests/inference/test_precision.py)
    paths = predict_main(
        [summary.best_checkpoint, str(images), "--batch-size", "2", "--overlays", "--precision", "fp32"]
    )
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


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    """The best checkpoint of a one-epoch tiny run."""
    out = tmp_path_factory.mktemp("train") / "run"
    return train(compose_cfg(out, "trainer.max_epochs=1", "test=false")).best_checkpoint


@pytest.mark.parametrize("content", [b"", b"\x89", b"BM", b"II*"])
def test_files_too_short_for_a_header_have_no_size_and_read_as_one_line(tmp_path, content):
    path = tmp_path / "a.png"
    path.write_bytes(content)
    assert declared_size(path) is None  # no format reader's check of a short prefix escapes
    with pytest.raises(DataError, match="a.png"):
        read_image(path)


def test_unreadable_images_are_skipped_and_named_and_the_others_predicted(checkpoint, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("b.png", "c.jpg"):
        cv2.imwrite(str(images / name), np.full((32, 40, 3), 90, np.uint8))
    (images / "a.png").write_bytes(b"")  # zero bytes
    (images / "d.png").write_bytes(b"not an image at all")

    paths = predict_main([checkpoint, str(images), "--overlays", "--batch-size", "1"])

    with paths["csv"].open(newline="") as f:
        assert [r[0] for r in list(csv.reader(f))[3:]] == ["b.png", "c.jpg"]
    saved = json.loads(paths["json"].read_text())
    assert [i["image"] for i in saved["images"]] == ["b.png", "c.jpg"]
    assert [s["image"] for s in saved["skipped"]] == ["a.png", "d.png"]
    assert saved["skipped"][0]["reason"] == "empty file"
    assert sorted(p.name for p in (images / "predictions" / "overlays").iterdir()) == ["b.png", "c.jpg.png"]
    out = capsys.readouterr().out
    assert "skipped 2 unreadable images: a.png (empty file), d.png (" in out
    assert "Traceback" not in out


def test_a_folder_of_only_unreadable_images_is_one_line_and_writes_nothing(checkpoint, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"")
    with pytest.raises(SystemExit) as stopped:
        predict_main([checkpoint, str(images)])
    err = capsys.readouterr().err.strip()
    assert stopped.value.code == 2 and err.count("\n") == 0, err
    assert err.startswith("error: images: no image in ") and err.endswith("could be read: a.png (empty file)")
    assert not (images / "predictions").exists() or not any((images / "predictions").iterdir())
