"""seqattn.io.files: what atomic writes leave behind."""

import os
import subprocess
import sys

from seqattn.io.files import remove_stale_partials


def test_temporaries_of_killed_processes_are_cleared_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, live = tmp_path / f".last.ckpt.partial-{dead.pid}.ckpt", tmp_path / f".last.ckpt.partial-{os.getpid()}.ckpt"
    stale.write_bytes(b"x")
    live.write_bytes(b"x")
    assert remove_stale_partials(tmp_path) == [stale]
    assert live.exists()
