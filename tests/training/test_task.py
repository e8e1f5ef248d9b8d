"""The task wrapper (seqattn/training/task.py) on a full disk: a log file that cannot be written
prints no logging traceback ("--- Logging error ---"); the run's one-line error still appears."""

import errno
import logging

import pytest

from seqattn.training.task import run_task


def no_space(*args) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def full_log_file(tmp_path, monkeypatch):
    """A file handler on the root logger, as Hydra's job logging adds for <run>/train.log, on a full disk."""
    handler = logging.FileHandler(tmp_path / "train.log")
    monkeypatch.setattr(handler.stream, "write", no_space)
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
    monkeypatch.undo()
    handler.close()


def test_a_full_disk_under_the_log_file_is_the_one_line_error_alone(full_log_file, tmp_path, capsys):
    def work() -> float:
        logging.getLogger("seqattn").warning("epoch 3: resumed")  # Hydra's log file refuses this line
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "checkpoints" / "last.ckpt"))

    with pytest.raises(SystemExit) as stopped:
        run_task(work, tmp_path)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "Logging error" not in err and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith(f"error: cannot write {tmp_path / 'checkpoints' / 'last.ckpt'}")


def test_the_log_file_reports_its_own_errors_again_after_the_task(full_log_file, tmp_path, capsys):
    assert run_task(lambda: 1.0, tmp_path) == 1.0
    logging.getLogger("seqattn").warning("after the task")  # the handler is as it was: logging's own report
    assert "Logging error" in capsys.readouterr().err
