"""The sweep summary (seqattn/training/sweep.py) over a folder holding a job whose files are
half-written: that job is named as unreadable, the others are summarized."""

import csv
import json
from pathlib import Path

import pytest
import yaml

from seqattn.training.sweep import CSV_FILE, MD_FILE, main

FINISHED = {
    "monitor": "val/epe_px",
    "best_score": 4.0,
    "best_epoch": 3,
    "last_epoch": 8,
    "test_metrics": {"test/epe_px": 4.5},
    "wall_time_s": 12.5,
}


def make_job(sweep: Path, name: str, overrides: str, summary: str | bytes) -> None:
    (sweep / name / ".hydra").mkdir(parents=True)
    (sweep / name / ".hydra" / "overrides.yaml").write_text(overrides)
    (sweep / name / "summary.json").write_bytes(summary if isinstance(summary, bytes) else summary.encode())


@pytest.mark.parametrize(
    "overrides, summary, file",
    [
        (yaml.safe_dump(["loss.threshold=0.1"]), json.dumps(FINISHED)[:40], "summary.json"),  # cut midway
        (yaml.safe_dump(["loss.threshold=0.1"]), "", "summary.json"),
        (yaml.safe_dump(["loss.threshold=0.1"]), "[1, 2]", "summary.json"),  # JSON, but no summary
        (yaml.safe_dump(["loss.threshold=0.1"]), b'{"best_score": "\xff', "summary.json"),  # not UTF-8
        ("- loss.threshold=0.1\n- [", json.dumps(FINISHED), ".hydra/overrides.yaml"),
    ],
)
def test_a_job_with_a_half_written_file_is_named_and_the_others_summarized(tmp_path, capsys, overrides, summary, file):
    make_job(tmp_path, "0", yaml.safe_dump(["loss.threshold=0.3"]), json.dumps(FINISHED))
    make_job(tmp_path, "1", overrides, summary)
    make_job(tmp_path, "2", yaml.safe_dump(["loss.threshold=0.03"]), json.dumps(FINISHED))

    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 jobs: 2 finished, 0 failed, 0 without a summary, 1 unreadable" in out
    with (tmp_path / CSV_FILE).open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["ok", "unreadable", "ok"]
    assert rows[1]["job"] == "1" and str(tmp_path / "1" / file) in rows[1]["error"]
    assert rows[0]["test/epe_px (best ckpt)"] == "4.5" and (tmp_path / MD_FILE).is_file()
