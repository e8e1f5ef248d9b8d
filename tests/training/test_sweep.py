"""seqattn.training.sweep: sweep summaries, experiment configs, the Optuna search and the parallel
(joblib) launcher."""

import csv
import json
from pathlib import Path

import pytest
import yaml
from helpers import CONF, TINY, read_csv, run_train
from hydra import compose, initialize_config_dir

from seqattn.training.plugins import PLUGINS, missing_plugin
from seqattn.training.sweep import CSV_FILE, MD_FILE, PLOT_FILE, main, write_sweep_summary

PNG = b"\x89PNG"


def make_job(sweep: Path, name: str, overrides: list[str], summary: dict | None) -> Path:
    """A job folder as Hydra and train.py leave it: .hydra/overrides.yaml and (unless None) summary.json."""
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if summary is not None:
        (job / "summary.json").write_text(json.dumps(summary))
    return job


def finished(best: float, test: float, epoch: int = 3, wall: float = 12.5) -> dict:
    return {
        "monitor": "val/epe_px",
        "best_score": best,
        "best_epoch": epoch,
        "last_epoch": epoch + 5,
        "test_metrics": {"test/epe_px": test, "test/pck@5px": 0.5},
        "wall_time_s": wall,
    }


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    make_job(tmp_path, "0", ["logger=csv", "loss.threshold=0.3"], finished(4.0, 4.5))
    make_job(tmp_path, "1", ["logger=csv", "loss.threshold=0.1"], {"error": "ValueError: boom | bad", "wall_time_s": 1})
    make_job(tmp_path, "2", ["logger=csv", "loss.threshold=0.03"], None)  # killed: no summary.json
    make_job(tmp_path, "10", ["logger=csv", "loss.threshold=0.01"], finished(3.0, 3.25, epoch=7))
    return tmp_path


def test_summary_has_one_row_per_job_with_its_outcome(sweep):
    paths = write_sweep_summary(sweep)
    assert [p.name for p in paths] == [CSV_FILE, MD_FILE, PLOT_FILE]

    rows = read_csv(sweep / CSV_FILE)
    assert [r["job"] for r in rows] == ["0", "1", "2", "10"]  # natural order, not 0, 1, 10, 2
    assert [r["status"] for r in rows] == ["ok", "error", "missing", "ok"]
    assert [r["loss.threshold"] for r in rows] == ["0.3", "0.1", "0.03", "0.01"]
    assert "logger" not in rows[0]  # not swept: named once above the table instead
    best = rows[3]
    assert float(best["best val/epe_px"]) == 3.0 and best["best epoch"] == "7" and best["stopped after epoch"] == "12"
    assert float(best["test/epe_px (best ckpt)"]) == 3.25 and float(best["wall time s"]) == 12.5
    assert best["run folder"] == str(sweep / "10") and best["overrides"] == "logger=csv loss.threshold=0.01"
    assert rows[1]["error"] == "ValueError: boom | bad" and rows[1]["test/epe_px (best ckpt)"] == ""
    assert "killed" in rows[2]["error"]

    md = (sweep / MD_FILE).read_text()
    assert "4 jobs: 2 finished, 1 failed, 1 without a summary" in md
    assert "Overrides of every job: `logger=csv`" in md
    assert "Lowest test/epe_px: 3.25 px, job 10." in md
    assert "ValueError: boom \\| bad" in md  # a | in an error must not break the table
    assert f"]({PLOT_FILE})" in md
    assert (sweep / PLOT_FILE).read_bytes()[:4] == PNG


def test_no_plot_when_no_numeric_value_was_swept(tmp_path):
    make_job(tmp_path, "0", ["model=simple"], finished(4.0, 4.5))
    make_job(tmp_path, "1", ["model=sequential"], finished(3.0, 3.5))
    paths = write_sweep_summary(tmp_path)
    assert [p.name for p in paths] == [CSV_FILE, MD_FILE] and not (tmp_path / PLOT_FILE).exists()
    assert [r["model"] for r in read_csv(tmp_path / CSV_FILE)] == ["simple", "sequential"]


def test_command_summarizes_an_existing_sweep_folder(sweep, tmp_path, capsys):
    assert main([str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "| 10 | ok | 0.01 |" in out and str(sweep / CSV_FILE) in out
    assert main([str(tmp_path / "nowhere")]) == 2
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "no job folders" in capsys.readouterr().err


def test_experiment_configs_compose_to_their_sweeps():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["+experiment=threshold_sweep"], return_hydra_config=True)
        assert cfg.hydra.sweeper.params["loss.threshold"] == "0.3,0.1,0.03,0.01"
        assert cfg.hydra.callbacks.sweep_summary._target_ == "seqattn.training.sweep.SweepSummary"
        if missing_plugin(["+experiment=optuna_search"], CONF) is None:
            cfg = compose("train", overrides=["+experiment=optuna_search"], return_hydra_config=True)
            assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper") and cfg.hydra.sweeper.direction == "minimize"
            assert set(cfg.hydra.sweeper.params) == {"loss.threshold", "optimizer.lr", "model.width"}


def _skip_without(plugin: str) -> None:
    module, package = PLUGINS[plugin]
    pytest.importorskip(module, reason=f"{package} not installed (pip install -e '.[sweep]')")


@pytest.mark.slow
def test_threshold_sweep_experiment_runs_and_summarizes_every_job(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_train(
        tmp_path, "-m", "+experiment=threshold_sweep", *TINY, "trainer.max_epochs=1", f"hydra.sweep.dir={sweep}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"sweep summary: {sweep / MD_FILE}" in result.stdout

    rows = read_csv(sweep / CSV_FILE)
    assert sorted(float(r["loss.threshold"]) for r in rows) == [0.01, 0.03, 0.1, 0.3]
    for row in rows:
        summary = json.loads((sweep / row["job"] / "summary.json").read_text())
        assert row["status"] == "ok" and float(row["test/epe_px (best ckpt)"]) == summary["test_metrics"]["test/epe_px"]
        assert summary["loss_threshold"] == float(row["loss.threshold"]) and summary["wall_time_s"] > 0
    assert (sweep / PLOT_FILE).read_bytes()[:4] == PNG


@pytest.mark.slow
def test_parallel_launcher_runs_jobs_side_by_side_and_records_a_crashed_one(tmp_path):
    _skip_without("joblib")
    sweep = tmp_path / "sweep"
    # data.num_workers=2 on purpose: DataLoader workers inside joblib's processes crash unless
    # train.py turns them off there.
    result = run_train(
        tmp_path,
        "-m",
        "hydra/launcher=parallel",
        *TINY,
        "data.num_workers=2",
        "trainer.max_epochs=1",
        "loss.threshold=0.3,-1",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "JoblibLauncher" in (sweep / "multirun.yaml").read_text()
    ok, crashed = read_csv(sweep / CSV_FILE)
    assert ok["status"] == "ok", ok["error"]
    job = json.loads((sweep / "0" / "summary.json").read_text())  # the table reports the job's own result
    assert float(ok["test/epe_px (best ckpt)"]) == pytest.approx(job["test_metrics"]["test/epe_px"], rel=1e-3)
    assert crashed["status"] == "error" and "loss.threshold must be a finite number >= 0" in crashed["error"]
    assert (sweep / "1" / ".hydra").is_dir()  # a crashed job keeps its folder and overrides
    info = json.loads((sweep / "0" / "run_info.json").read_text())
    assert info["config"]["data"]["num_workers"] == 0


@pytest.mark.slow
def test_optuna_search_minimizes_the_validation_epe(tmp_path):
    _skip_without("optuna")
    sweep = tmp_path / "sweep"
    result = run_train(
        tmp_path,
        "-m",
        "+experiment=optuna_search",
        "hydra.sweeper.n_trials=2",
        *TINY,
        "trainer.max_epochs=1",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    summaries = [json.loads((sweep / job / "summary.json").read_text()) for job in ("0", "1")]
    assert best["best_value"] == pytest.approx(min(s["best_score"] for s in summaries))
    assert 0.005 <= best["best_params"]["loss.threshold"] <= 0.3
    assert 1e-4 <= best["best_params"]["optimizer.lr"] <= 3e-3
    # model.width is fixed by TINY on the command line, which takes it out of the search
    assert len(read_csv(sweep / CSV_FILE)) == 2


FINISHED = {
    "monitor": "val/epe_px",
    "best_score": 4.0,
    "best_epoch": 3,
    "last_epoch": 8,
    "test_metrics": {"test/epe_px": 4.5},
    "wall_time_s": 12.5,
}


def make_raw_job(sweep: Path, name: str, overrides: str, summary: str | bytes) -> None:
    """A job folder whose files hold exactly the given text (possibly damaged)."""
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
    make_raw_job(tmp_path, "0", yaml.safe_dump(["loss.threshold=0.3"]), json.dumps(FINISHED))
    make_raw_job(tmp_path, "1", overrides, summary)
    make_raw_job(tmp_path, "2", yaml.safe_dump(["loss.threshold=0.03"]), json.dumps(FINISHED))

    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 jobs: 2 finished, 0 failed, 0 without a summary, 1 unreadable" in out
    with (tmp_path / CSV_FILE).open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["ok", "unreadable", "ok"]
    assert rows[1]["job"] == "1" and str(tmp_path / "1" / file) in rows[1]["error"]
    assert rows[0]["test/epe_px (best ckpt)"] == "4.5" and (tmp_path / MD_FILE).is_file()
