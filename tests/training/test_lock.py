"""seqattn.training.lock: one run per folder at a time."""

import os
import subprocess
import sys

import pytest
from helpers import compose_cfg

from seqattn.errors import ConfigError
from seqattn.training.arguments import check_run_dir
from seqattn.training.lock import LOCK_FILE, RunLock
from seqattn.training.train import train


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
