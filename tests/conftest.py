from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# A run that takes seconds on 2 CPU cores: tiny images, tiny model, few samples.
TINY = [
    "input_size=32",
    "data.source.num_train=24",
    "data.source.num_val=8",
    "data.source.num_test=8",
    "data.source.width=40",
    "data.source.height=32",
    "data.source.num_keypoints=4",
    "data.batch_size=8",
    "data.num_workers=0",
    "data.epoch_size=0",
    "model.channels=[8,8,16]",
    "model.width=16",
    "model.heads=2",
    "model.glimpse_size=8",
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "logger=csv",
]


def _groups_replaced(override: str) -> set[str]:
    """The config groups an override replaces: ``model=x`` -> model; ``+experiment=x`` -> those its
    defaults list overrides (``override /model: null``)."""
    key, _, value = override.partition("=")
    if key == "+experiment":
        defaults = yaml.safe_load((CONF / "experiment" / f"{value}.yaml").read_text()).get("defaults", [])
        return {k.split("/")[-1] for d in defaults if isinstance(d, dict) for k in d if k.startswith("override")}
    return {key} if "." not in key and not key.startswith("+") else set()


def tiny(*overrides: str) -> list[str]:
    """TINY + overrides; choosing another config group (model=..., data=..., or an experiment that
    replaces one) drops TINY's keys for it."""
    swapped = set().union(*(_groups_replaced(o) for o in overrides if "=" in o))
    return [o for o in TINY if o.split(".", 1)[0] not in swapped] + list(overrides)


def compose_cfg(output_dir: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=tiny(f"paths.output_dir={output_dir}", *overrides))


@pytest.fixture
def make_cfg(tmp_path: Path):
    """make_cfg(*overrides) -> a tiny config whose run folder is tmp_path / "run"."""
    return lambda *overrides: compose_cfg(tmp_path / "run", *overrides)
