"""seqattn.training.arguments: train.py's checks of its arguments, before Hydra writes anything."""

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

from seqattn.errors import ConfigError
from seqattn.training import arguments
from seqattn.training.arguments import check_run_dir


def test_a_run_folder_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_run_dir([f"hydra.run.dir={tmp_path / 'afile' / 'run'}"])


_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE = 24, 1


def _no_permission_override() -> None:
    """For a child process: without CAP_DAC_OVERRIDE, root too is refused writes into a folder
    without write permission (as any other user is), instead of writing anyway."""
    if os.geteuid() == 0 and ctypes.CDLL(None, use_errno=True).prctl(_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@pytest.fixture
def locked(tmp_path: Path) -> Path:
    """A folder nobody may write into (root included, in the child processes of ``run``)."""
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    probe = f"import os, sys; sys.exit(0 if os.access({str(folder)!r}, os.W_OK) else 1)"
    try:
        writable = run([sys.executable, "-c", probe], tmp_path).returncode == 0
    except (OSError, subprocess.SubprocessError):
        writable = True
    if writable:
        pytest.skip("this process's children may write into read-only folders")
    yield folder
    folder.chmod(0o755)


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, preexec_fn=_no_permission_override
    )


def one_line(done: subprocess.CompletedProcess) -> str:
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), err[-3000:]
    return err


def test_train_into_a_folder_it_cannot_write_is_one_line_before_hydra_writes(locked, tmp_path):
    done = run([sys.executable, str(ROOT / "train.py"), f"hydra.run.dir={locked / 'run'}"], tmp_path)
    err = one_line(done)
    assert f"cannot write to run folder {locked / 'run'}: permission denied" in err, err
    assert "hydra.run.dir" in err and os.listdir(locked) == []


def test_eval_in_a_working_folder_it_cannot_write_is_one_line(locked, tmp_path):
    done = run([sys.executable, str(ROOT / "eval.py"), f"ckpt_path={tmp_path / 'none.ckpt'}"], locked)
    err = one_line(done)
    assert "cannot write to run folder outputs" in err and "permission denied" in err and str(locked) in err, err
    assert os.listdir(locked) == []


def test_a_read_only_file_system_is_named(tmp_path, monkeypatch):
    class ReadOnly:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(arguments.os, "access", lambda path, mode: False)
    monkeypatch.setattr(arguments.os, "statvfs", lambda path: ReadOnly())
    with pytest.raises(ConfigError, match=f"^hydra.run.dir: cannot write to run folder {tmp_path}: read-only file"):
        arguments.check_run_dir([f"hydra.run.dir={tmp_path}"])
