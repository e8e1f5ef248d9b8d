"""One value per setting: where a project class takes a setting that conf/ also gives, the
constructor's default is the config's (a class built in code behaves as the config does)."""

import inspect

import pytest
from helpers import CONF
from hydra import compose, initialize_config_dir
from hydra.utils import get_method
from omegaconf import OmegaConf


def targets(node, where=""):
    """(config path, node) of every node with a ``_target_`` in ``node``."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield where, node
        for key, value in node.items():
            yield from targets(value, f"{where}.{key}" if where else key)


def own_parameters(obj) -> dict[str, inspect.Parameter]:
    """The parameters a project class or function declares itself (not those of a library base class)."""
    function = obj.__init__ if inspect.isclass(obj) else obj
    if not function.__module__.startswith("seqattn"):
        return {}
    params = dict(inspect.signature(function).parameters)
    if any(p.kind is p.VAR_KEYWORD for p in params.values()) and hasattr(obj, "_build"):
        params.update(inspect.signature(obj._build).parameters)  # a label reader's **common: _build's settings
    return params


def resolved_later(value) -> bool:
    return isinstance(value, dict) or (isinstance(value, str) and (value in ("auto", "???") or "${" in value))


@pytest.mark.parametrize("data", ["synthetic", "dlc", "slp", "coco", "csv"])
def test_constructor_defaults_are_the_config_defaults(data):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = OmegaConf.to_container(compose("train", overrides=[f"data={data}"]), resolve=False)
    differ = []
    for where, node in targets(cfg):
        if not node["_target_"].startswith("seqattn."):
            continue
        for name, param in own_parameters(get_method(node["_target_"])).items():
            if name not in node or param.default is inspect.Parameter.empty or resolved_later(node[name]):
                continue
            given, default = node[name], param.default
            if (tuple(given) if isinstance(given, list) else given) != (
                tuple(default) if isinstance(default, list | tuple) else default
            ):
                differ.append(f"{where}.{name}: conf/ {given!r}, code {default!r}")
    assert not differ, "\n".join(differ)
