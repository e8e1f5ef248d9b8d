"""docs/benchmarks.md and docs/ablations.md are made from bench/results/ (bench/report.py): the pages
cannot drift from the files."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

SCRIPT = ROOT / "bench" / "report.py"
DOCS = ROOT / "docs"
PAGES = ("benchmarks.md", "ablations.md")
RESULTS = ROOT / "bench" / "results"


def report_module():
    if "bench_report" not in sys.modules:  # a dataclass module must be in sys.modules as it runs
        spec = importlib.util.spec_from_file_location("bench_report", SCRIPT)
        sys.modules["bench_report"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["bench_report"]


def check(docs: Path = DOCS, results: Path = RESULTS) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), "--check", "--docs", str(docs), "--results", str(results)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def copied_pages(folder: Path, name: str | None = None, edit=lambda text: text) -> Path:
    """The pages copied into ``folder``, page ``name`` changed by ``edit``."""
    for page in PAGES:
        text = (DOCS / page).read_text()
        (folder / page).write_text(edit(text) if page == name else text)
    return folder


def test_the_page_is_what_the_result_files_give():
    proc = check()
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_script_says_which_pages_it_makes():
    assert report_module().PAGES == PAGES


def test_check_fails_when_a_figure_on_a_page_is_edited(tmp_path):
    def edit(page: str) -> str:
        edited = page.replace("| 5.49 ± 0.08 |", "| 5.50 ± 0.08 |", 1)  # the headline's mirror-mouse mean
        assert edited != page
        return edited

    proc = check(docs=copied_pages(tmp_path, "benchmarks.md", edit))
    assert proc.returncode == 1
    assert "-| mirror-mouse | default | 0, 1 | 5.50 ± 0.08" in proc.stdout  # the diff names the edited row
    assert "benchmarks.md differs" in proc.stdout and "ablations.md differs" not in proc.stdout


def test_check_fails_when_a_result_file_changes(tmp_path):
    results = shutil.copytree(RESULTS, tmp_path / "results")
    path = next(results.glob("loss-*.json"))
    row = json.loads(path.read_text())
    path.write_text(json.dumps(dict(row, mean_px=row["mean_px"] + 1)))
    assert check(results=results).returncode == 1


def test_check_fails_when_a_table_has_no_markers(tmp_path):
    docs = copied_pages(tmp_path, "ablations.md", lambda text: text.replace("<!-- table:data start -->", ""))
    proc = check(docs=docs)
    assert proc.returncode == 1 and "data" in proc.stdout


def test_check_fails_when_a_table_is_on_both_pages(tmp_path):
    table = re.search(
        r"<!-- table:video start -->.*?<!-- table:video end -->\n", (DOCS / "benchmarks.md").read_text(), re.S
    )
    proc = check(docs=copied_pages(tmp_path, "ablations.md", lambda text: text + "\n" + table[0]))
    assert proc.returncode == 1 and "marked more than once: ['video']" in proc.stdout


def test_the_pages_are_written_from_the_result_files(tmp_path):
    docs = copied_pages(tmp_path, "ablations.md", lambda text: text.replace("| 0.65 |", "| 9.99 |"))
    proc = subprocess.run([sys.executable, str(SCRIPT), "--docs", str(docs)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout
    assert [(docs / p).read_text() for p in PAGES] == [(DOCS / p).read_text() for p in PAGES]


def test_every_result_file_names_its_provenance():
    for path in RESULTS.glob("*.json"):
        row = json.loads(path.read_text())
        assert row["date"] and row["command"] and row["protocol"], path.name
        transcribed = row.get("source") == "transcribed from docs/benchmarks.md at aa4ed51"
        assert transcribed or (row["commit"] and row["alone"] is not None), path.name  # a run: its code, alone or not


def test_a_table_shows_lists_spreads_and_what_was_not_measured():
    report = report_module()
    rows = [
        report.new_result(table="headline", label="default", set="s", model="m", seeds=[0, 1], mean_px=2.345,
                          mean_px_spread=0.0649, p90_px=[5.0, 4.5], alone=[True, False], command="python a.py"),
        report.new_result(table="headline", label="softargmax", set="s", model="m", seeds=[0], command="python b.py"),
    ]  # fmt: skip
    table = report.render(rows, report.TABLES["headline"]).splitlines()
    assert table[2].startswith("| s | default | 0, 1 | 2.35 ± 0.06 | 5.00, 4.50 | – | – | – |")
    assert table[2].endswith("| yes, no | – | 1 |") and table[3].endswith("| – | – | 2 |")
    assert table[5:7] == ["1. `python a.py`", "2. `python b.py`"]


def test_seeds_of_one_configuration_combine_into_one_row():
    report = report_module()
    runs = [
        report.new_result(label="x", set="s", model="m", seeds=[s], mean_px=m, p90_px=m + 2, command=f"c{s}",
                          protocol="10 min", train_images_per_s=50.0)
        for s, m in ((0, 2.0), (1, 3.0))
    ]  # fmt: skip
    row = report.combine(runs, "headline", "default")
    assert row["seeds"] == [0, 1] and row["mean_px"] == 2.5 and row["mean_px_spread"] == 0.5
    assert row["train_images_per_s"] == [50.0, 50.0] and row["command"] == ["c0", "c1"]
    assert row["protocol"] == "10 min" and row["table"] == "headline"


def test_accuracy_writes_its_run_as_a_row(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import accuracy

    numbers = {"seed": 1, "mean": 2.5, "median": 1.5, "p90": 4.0, "train_ips": float("nan"), "peak_mb": 1000.0}
    numbers["protocol"] = "10 min"  # as run_one records it
    common = "data=dlc data.path=../shared/data/openfield data.split_file=../shared/data/openfield/splits.json"
    row = accuracy.result_row(numbers, common, "seed=1")
    assert set(report_module().SCHEMA) <= set(row) and row["mean"] == 2.5  # its own keys stay for the other scripts
    assert (row["set"], row["seeds"], row["mean_px"], row["train_images_per_s"]) == ("openfield", [1], 2.5, None)
    assert row["protocol"] == "10 min" and row["alone"] is None and row["date"]
    assert row["command"] == f"python bench/accuracy.py --minutes 10 --common '{common}' seed=1"
    fixed = accuracy.result_row({**numbers, "protocol": "30000 images"}, common, "seed=1")
    assert fixed["protocol"] == "30000 images" and fixed["command"].startswith(
        "python bench/accuracy.py --images 30000 "
    )
