"""seqattn.training.cli: train.py's checks of its arguments, before Hydra writes anything."""

import pytest

from seqattn.errors import ConfigError
from seqattn.training.cli import check_run_dir


def test_a_run_folder_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_run_dir([f"hydra.run.dir={tmp_path / 'afile' / 'run'}"])
