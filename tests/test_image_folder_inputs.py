"""predict.py on a folder of images that holds files it cannot read (seqattn/inference/image_folder.py,
seqattn/io/images.py): those are skipped and named, the readable ones predicted."""

import csv
import json

import cv2
import numpy as np
import pytest
from conftest import compose_cfg

from seqattn.errors import DataError
from seqattn.inference.cli import main as predict_main
from seqattn.io.images import declared_size, read_image
from seqattn.training.train import train


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
