"""seqattn.training.plugins: a missing Hydra plugin is named with its install command."""

import pytest
from helpers import CONF

from seqattn.training.plugins import missing_plugin


@pytest.mark.parametrize(
    "argv, package",
    [
        (["-m", "+experiment=optuna_search"], "hydra-optuna-sweeper"),
        (["-m", "hydra/launcher=parallel"], "hydra-joblib-launcher"),  # our config on top of the plugin's
        (["-m", "hydra/launcher=slurm"], "hydra-submitit-launcher"),
        (["-m", "hydra/launcher=submitit_local"], "hydra-submitit-launcher"),
    ],
)
def test_a_missing_plugin_is_named_with_its_install_command(argv, package):
    message = missing_plugin(argv, CONF, installed=lambda module: False)
    assert message.startswith(argv[1]) and package in message and 'pip install -e ".[sweep]"' in message
    assert missing_plugin(argv, CONF, installed=lambda module: True) is None
    assert missing_plugin(["-m", "+experiment=threshold_sweep", "loss.threshold=0.1"], CONF, lambda m: False) is None
