"""Training and checkpoints as a hostile or unlucky user meets them: files that carry code, runs
killed or starved of disk, two runs in one folder, bad values. Each ends in one line, before work,
with nothing lost and nothing half-written."""

import json
import os
import pathlib
import resource
import signal
import subprocess
import sys

import pytest
import torch
import yaml
from conftest import ROOT, TINY, compose_cfg
from train_helpers import interrupt_at

from seqattn.callbacks import AtomicCheckpointIO
from seqattn.checkpoint import check_targets, module_from_checkpoint, read_checkpoint
from seqattn.errors import ConfigError
from seqattn.inference import cli
from seqattn.io.files import remove_stale_partials
from seqattn.training.cli import check_run_dir
from seqattn.training.lock import LOCK_FILE, RunLock
from seqattn.training.resume import LAST_CHECKPOINT, RUN_OVERRIDES, resume_argv
from seqattn.training.run_info import RUN_INFO_FILE
from seqattn.training.task import find_user_error
from seqattn.training.train import train

# A plateau on purpose: frozen weights, and no change counts as an improvement.
PLATEAU = ["optimizer.lr=0", "callbacks.early_stopping.min_delta=100", "callbacks.early_stopping.patience=10"]


class Payload:
    """Unpickling this creates ``marker``: what a hostile checkpoint or label file would do."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> pathlib.Path:
    """A finished tiny run's folder (4 keypoints, 1 epoch)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    train(compose_cfg(out, "trainer.max_epochs=1"))
    return out


def evil_copy(ckpt: pathlib.Path, dest: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    """``ckpt`` with a pickled payload added: it loads as before with weights_only=False."""
    data = torch.load(ckpt, map_location="cpu", weights_only=True)
    data["extra"] = Payload(marker)
    torch.save(data, dest)
    return dest


def test_checkpoints_carrying_code_are_refused_unrun(trained, tmp_path):
    marker = tmp_path / "ran"
    evil = evil_copy(trained / LAST_CHECKPOINT, tmp_path / "evil.ckpt", marker)
    with pytest.raises(ConfigError, match=r"init_from: .*evil.ckpt is not a plain checkpoint"):
        train(compose_cfg(tmp_path / "out", f"init_from={evil}"))
    assert not marker.exists() and not (tmp_path / "out").exists()

    # resume=: a payload in the run folder's last.ckpt, or in its best checkpoint
    run = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(trained), str(run)], check=True)
    evil_copy(trained / LAST_CHECKPOINT, run / LAST_CHECKPOINT, marker)
    with pytest.raises(ConfigError, match=r"resume: .*last.ckpt is not a plain checkpoint"):
        resume_argv([f"resume={run}"])
    best = next((run / "checkpoints").glob("best-epoch*.ckpt"))
    evil_copy(best, best, marker)
    with pytest.raises(ConfigError, match="not a plain checkpoint"):
        read_checkpoint(best)
    with pytest.raises(ConfigError, match="not a plain checkpoint"):
        module_from_checkpoint(best, "checkpoint")
    assert not marker.exists()


@pytest.mark.parametrize("setting", ["model", "loss", "optimizer", "scheduler"])
def test_a_plain_data_checkpoint_may_rebuild_only_the_projects_own_classes(trained, tmp_path, capsys, setting):
    written = tmp_path / "written.txt"
    data = torch.load(trained / LAST_CHECKPOINT, map_location="cpu", weights_only=True)
    data["hyper_parameters"][setting] = {"_target_": "numpy.savetxt", "_args_": [str(written), ["x"]]}
    forged = tmp_path / "forged.ckpt"
    torch.save(data, forged)
    read_checkpoint(forged)  # plain data: it passes weights_only
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    Image.new("RGB", (40, 32)).save(images / "a.png")
    with pytest.raises(SystemExit) as stopped:
        cli.main([str(forged), str(images)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'numpy.savetxt'" in err and "refused" in err
    assert not written.exists()


def test_nested_targets_are_refused_even_under_an_allowed_one():
    hparams = {"model": {"_target_": "seqattn.models.SequentialAttentionModel", "x": {"_target_": "os.system"}}}
    with pytest.raises(ConfigError, match="os.system"):
        check_targets(hparams, "f.ckpt")
    check_targets({"model": {"_target_": "seqattn.models.SequentialAttentionModel"}}, "f.ckpt")


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "is empty"),
        (b"not a checkpoint at all", "not a readable checkpoint"),
        ("truncated", "not a readable checkpoint"),
        ("foreign", "not a Lightning checkpoint"),
        ("other model", "not a seqattn checkpoint"),
    ],
)
@pytest.mark.parametrize("setting", ["init_from", "ckpt_path", "test_ckpt"])
def test_bad_checkpoint_files_are_one_line_before_anything_is_written(trained, tmp_path, content, words, setting):
    bad = tmp_path / "bad.ckpt"
    if content == "truncated":
        whole = (trained / LAST_CHECKPOINT).read_bytes()
        bad.write_bytes(whole[: len(whole) // 2])
    elif content == "foreign":
        torch.save({"weights": torch.zeros(3)}, bad)
    elif content == "other model":
        torch.save({"state_dict": {"w": torch.zeros(3)}, "epoch": 1}, bad)
    else:
        bad.write_bytes(content)
    with pytest.raises(ConfigError, match=f"{setting}: .*bad.ckpt .*{words}"):
        train(compose_cfg(tmp_path / "out", f"{setting}={bad}"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("setting", ["init_from", "ckpt_path", "test_ckpt"])
def test_a_checkpoint_for_other_keypoints_is_one_line(trained, tmp_path, setting):
    ckpt = trained / LAST_CHECKPOINT
    with pytest.raises(ConfigError, match=f"{setting}: .* was trained on 4 keypoints .* this data has 3"):
        train(compose_cfg(tmp_path / "out", "data.source.num_keypoints=3", f"{setting}={ckpt}"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "override, words",
    [
        ("data.batch_size=0", "data.batch_size must be >= 1"),
        ("data.batch_size=-1", "data.batch_size must be >= 1"),
        ("data.num_workers=-1", "data.num_workers must be >= 0"),
        ("optimizer.lr=-1", "optimizer.lr must be >= 0"),
        ("supervision.confidence_scale=0", "supervision.confidence_scale must be > 0"),
        ("monitor=val/nonsense", "monitor must be a metric the run logs"),
        ("model.glimpse_source=bogus", "model.glimpse_source must be auto, pixels or features"),
        ("model.glimpse_source=bogus model.glimpse_size=auto", "model.glimpse_source must be auto, pixels or"),
        ("input_size=abc", "input_size must be an integer"),
        ("input_size=4", "input_size must be >= 8"),
        ("seed=abc", "seed must be an integer"),
        ("data.augment.rotate=nan", "data.augment.rotate must be a finite number"),
        ("loss.threshold=inf", "loss.threshold must be a finite number"),
    ],
)
def test_meaningless_values_stop_before_anything_is_written(tmp_path, override, words):
    with pytest.raises(Exception) as raised:  # a constructor's error arrives wrapped by hydra.instantiate
        train(compose_cfg(tmp_path / "out", *override.split()))
    assert words in str(find_user_error(raised.value))  # what train.py prints, as one line
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_last_checkpoint_holds_every_finished_epoch_through_a_plateau(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(SystemExit):  # SIGTERM in epoch 3, after three epochs without improvement
        train(compose_cfg(run, "trainer.max_epochs=5", *PLATEAU, *interrupt_at(3, 1, tmp_path / "m", "SIGTERM")))
    best = next((run / "checkpoints").glob("best-epoch*.ckpt"))
    assert read_checkpoint(best)["epoch"] == 0  # nothing improved after epoch 0
    assert read_checkpoint(run / LAST_CHECKPOINT)["epoch"] == 2  # yet no finished epoch is lost


def test_checkpoints_are_written_beside_their_name_and_never_half(tmp_path):
    io, target = AtomicCheckpointIO(), tmp_path / "ckpts" / "last.ckpt"
    io.save_checkpoint({"epoch": 1}, target)
    with pytest.raises(Exception):  # noqa: B017 - whatever the pickler raises for a lambda
        io.save_checkpoint({"epoch": 2, "bad": lambda: 0}, target)
    assert torch.load(target, weights_only=True) == {"epoch": 1}  # the previous file, whole
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.ckpt"]  # no temporary left


def test_temporaries_of_killed_processes_are_cleared_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, live = tmp_path / f".last.ckpt.partial-{dead.pid}.ckpt", tmp_path / f".last.ckpt.partial-{os.getpid()}.ckpt"
    stale.write_bytes(b"x")
    live.write_bytes(b"x")
    assert remove_stale_partials(tmp_path) == [stale]
    assert live.exists()


def run_train_py(cwd, *args, limit_bytes: int | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """train.py in a subprocess; ``limit_bytes``: no file it writes may grow past that (a full disk)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    env = {**os.environ, "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit if limit_bytes else None,
    )


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_leaves_no_truncated_checkpoint(tmp_path, trained):
    size = (trained / LAST_CHECKPOINT).stat().st_size
    run = tmp_path / "run"
    args = [*TINY, "trainer.max_epochs=1", "callbacks.error_overlays=null", f"hydra.run.dir={run}"]
    done = run_train_py(tmp_path, *args, limit_bytes=size // 2)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: cannot write ") and ".ckpt" in lines[-1], lines[-3:]
    assert "Traceback" not in done.stderr
    left = sorted(p.name for p in (run / "checkpoints").iterdir()) if (run / "checkpoints").exists() else []
    assert left == [], left  # no truncated file under its final name, no temporary either


@pytest.mark.slow
def test_a_failed_resume_leaves_the_run_folder_as_it_was(tmp_path, trained):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(trained), str(run)], check=True)
    (run / ".hydra").mkdir(exist_ok=True)
    (run / RUN_OVERRIDES).write_text(yaml.safe_dump([*TINY, "trainer.max_epochs=1"]))
    before = {p: (run / p).read_bytes() for p in (RUN_OVERRIDES, RUN_INFO_FILE)}
    done = run_train_py(tmp_path, f"resume={run}", "data.source.num_keypoints=3")  # another K
    assert done.returncode == 2 and "was trained on 4 keypoints" in done.stderr.strip().splitlines()[-1]
    assert {p: (run / p).read_bytes() for p in before} == before
    done = run_train_py(tmp_path, f"resume={run}", "trainer.max_epochs=2")  # plain resume still works
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trainer.max_epochs=2" in yaml.safe_load((run / RUN_OVERRIDES).read_text())
    assert json.loads((run / "summary.json").read_text())["last_epoch"] == 1


def test_malformed_saved_overrides_are_one_line(tmp_path, trained):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(trained), str(run)], check=True)
    (run / ".hydra").mkdir(exist_ok=True)
    (run / RUN_OVERRIDES).write_text("- a=1\n  b: [")
    with pytest.raises(ConfigError, match=r"overrides.yaml is not readable YAML"):
        resume_argv([f"resume={run}"])
    (run / RUN_OVERRIDES).write_text("{a: 1}")
    with pytest.raises(ConfigError, match=r"overrides.yaml must be a list of overrides"):
        resume_argv([f"resume={run}"])


def test_a_folder_held_by_a_live_run_is_refused(tmp_path):
    run = tmp_path / "run"
    hold = (
        "from seqattn.training.lock import RunLock; import time\n"
        f"with RunLock({str(run)!r}):\n    print(1, flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "1"  # the other run holds the folder now
        with pytest.raises(ConfigError, match=f"in use by process {holder.pid}"):
            train(compose_cfg(run))
        with pytest.raises(ConfigError, match=f"in use by process {holder.pid}"):
            check_run_dir([f"hydra.run.dir={run}"])  # train.py's check, before Hydra writes .hydra/
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]  # nothing of this run written
    finally:
        holder.kill()  # killed: no clean exit, its lock file stays behind
        holder.wait()
    assert (run / LOCK_FILE).exists()
    train(compose_cfg(run, "trainer.max_epochs=1"))  # the process is gone: its lock file is taken over
    assert not (run / LOCK_FILE).exists() and (run / "summary.json").is_file()


def test_two_locks_on_one_folder_exclude_each_other(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(ConfigError, match=f"in use by process {os.getpid()}"):
            RunLock(tmp_path).__enter__()
    with RunLock(tmp_path):  # released: free again
        pass


def test_a_run_folder_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_run_dir([f"hydra.run.dir={tmp_path / 'afile' / 'run'}"])


def test_eval_into_a_folder_it_cannot_write_is_one_line(trained, tmp_path, capsys):
    from test_eval_predict import eval_cfg

    from seqattn.training.evaluate import main as eval_main

    (tmp_path / "afile").write_text("x")
    cfg = eval_cfg(tmp_path / "afile" / "out", f"ckpt_path={trained / LAST_CHECKPOINT}")
    with pytest.raises(SystemExit) as stopped:
        eval_main(cfg)
    err = capsys.readouterr().err.strip()
    assert stopped.value.code == 2 and err.count("\n") == 0 and err.startswith("error: cannot write "), err


def test_a_continued_run_keeps_its_checkpoints_letterbox(trained, tmp_path):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(trained), str(run)], check=True)
    # left to the data, input_size would be 64 now (40 x 32 images); the checkpoint was trained at 32
    summary = train(compose_cfg(run, f"resume={run}", "input_size=auto", "trainer.max_epochs=2"))
    assert summary.input_size == 32 and summary.last_epoch == 1
    with pytest.raises(ConfigError, match=r"input_size=48 differs from .*last.ckpt's 32"):
        train(compose_cfg(run, f"resume={run}", "input_size=48", "trainer.max_epochs=3"))
    # the checkpoint's letterbox factor wins over the config's
    assert train(compose_cfg(run, f"resume={run}", "model.hires_factor=3", "trainer.max_epochs=3")).last_epoch == 2
    with pytest.raises(ConfigError, match="test_ckpt: .* was trained at input_size 32, this run at 48"):
        train(compose_cfg(tmp_path / "other", "input_size=48", f"test_ckpt={trained / LAST_CHECKPOINT}"))
