"""predict.py on a folder of images with a model of several animals."""

import json

import cv2
import pandas as pd

from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.inference.predict import main as predict_main


def test_a_folder_gives_multi_animal_tables_and_names_unreadable_files(animals_run, tmp_path, capsys):
    frames = SyntheticSource(num_train=3, num_val=1, num_test=1, width=96, height=72, animals=2).frames()["train"]
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), frames.image(i)[:, :, ::-1])
    (tmp_path / "broken.png").write_bytes(b"")
    written = predict_main([animals_run[0].best_checkpoint, str(tmp_path), "--out", str(tmp_path / "out")])
    table = pd.read_hdf(written["h5"])  # (pandas' CSV reader takes a first row with no animal for index names)
    assert list(table.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert sorted(table.columns.get_level_values("individuals").unique()) == ["animal0", "animal1"]
    assert list(table.index) == ["img0.png", "img1.png", "img2.png"]
    record = json.loads(written["json"].read_text())
    assert [i["image"] for i in record["images"]] == ["img0.png", "img1.png", "img2.png"]
    assert all(len(i["animals"]) <= 2 for i in record["images"])
    assert record["skipped"][0]["image"] == "broken.png"
    assert "skipped 1 unreadable image: broken.png" in capsys.readouterr().out
