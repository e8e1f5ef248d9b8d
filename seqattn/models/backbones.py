"""Pretrained step-0 backbones from Hugging Face transformers (``pip install 'seqattn[backbones]'``).

``model.backbone=<name>`` replaces the from-scratch CNN of step 0 with one of these, read at
strides 4, 8, 16 and 32 (the pyramid the heat maps merge). transformers builds them in plain
torch (no torchvision). Weights come from ``model.backbone_weights``: a local file (the hub's
``model.safetensors`` or ``pytorch_model.bin``), or null for the Hugging Face hub (its local
cache first, else a download), or ``none`` for random weights (what a checkpoint is rebuilt with:
its own weights replace them). Offline without a file, the error says what to download.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from seqattn.data.codec import INPUT_MEAN, INPUT_STD
from seqattn.errors import ConfigError

# name -> (hub repository, transformers model class, its config arguments)
BACKBONES: dict[str, tuple[str, str, dict]] = {
    "resnet18": ("microsoft/resnet-18", "ResNet", {"layer_type": "basic", "depths": [2, 2, 2, 2],
                                                   "hidden_sizes": [64, 128, 256, 512]}),
    "resnet34": ("microsoft/resnet-34", "ResNet", {"layer_type": "basic", "depths": [3, 4, 6, 3],
                                                   "hidden_sizes": [64, 128, 256, 512]}),
    "resnet50": ("microsoft/resnet-50", "ResNet", {"layer_type": "bottleneck", "depths": [3, 4, 6, 3],
                                                   "hidden_sizes": [256, 512, 1024, 2048]}),
    "convnext_tiny": ("facebook/convnext-tiny-224", "ConvNext", {"depths": [3, 3, 9, 3],
                                                                 "hidden_sizes": [96, 192, 384, 768]}),
}  # fmt: skip
NO_WEIGHTS = "none"
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ConfigError("model.backbone needs transformers: pip install 'seqattn[backbones]'") from None
    return transformers


def _download_hint(name: str) -> str:
    repo = BACKBONES[name][0]
    return (
        f"download model.safetensors from https://huggingface.co/{repo}/tree/main and set"
        f" model.backbone_weights=<that file> (or model.backbone_weights={NO_WEIGHTS} for random weights)"
    )


def _read_weights(path: Path, name: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ConfigError(f"model.backbone_weights: no file at {path}; {_download_hint(name)}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - safetensors and torch raise their own types for bad files
        raise ConfigError(
            f"model.backbone_weights: {path} is not a weights file ({str(exc).splitlines()[0]})"
        ) from None


class PretrainedBackbone(nn.Module):
    """(B, 3, S, S) images scaled as seqattn scales them -> maps at strides 4, 8, 16, 32, finest first."""

    def __init__(self, name: str, weights: str | None = None) -> None:
        super().__init__()
        if name not in BACKBONES:
            raise ConfigError(f"model.backbone must be one of {sorted(BACKBONES)} (or null), got {name!r}")
        transformers = _transformers()
        repo, family, arguments = BACKBONES[name]
        config = getattr(transformers, f"{family}Config")(**arguments)
        model_class = getattr(transformers, f"{family}Model")
        if weights is None:
            try:
                self.net = model_class.from_pretrained(repo)
            except OSError:
                raise ConfigError(
                    f"model.backbone={name}: its weights are not in the Hugging Face cache and could not be"
                    f" downloaded (offline?): {_download_hint(name)}"
                ) from None
        else:
            self.net = model_class(config)
            if weights != NO_WEIGHTS:
                self._load(_read_weights(Path(weights), name), Path(weights))
        self.pyramid_channels = tuple(arguments["hidden_sizes"])
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _load(self, state: dict[str, torch.Tensor], path: Path) -> None:
        """The file's weights, under the names of a classification checkpoint (``resnet.``/``convnext.``) or not."""
        prefix = self.net.base_model_prefix + "."
        state = {k.removeprefix(prefix): v for k, v in state.items() if not k.startswith("classifier.")}
        own = self.net.state_dict()
        missing = [k for k, v in own.items() if k not in state or state[k].shape != v.shape]
        if missing:
            raise ConfigError(
                f"model.backbone_weights: {path} lacks {len(missing)} of the backbone's {len(own)} weights"
                f" (e.g. {missing[0]}): weights of another backbone?"
            )
        self.net.load_state_dict(state, strict=False)

    def pyramid(self, images: torch.Tensor) -> list[torch.Tensor]:
        rgb = images * INPUT_STD + INPUT_MEAN  # back to [0, 1], then ImageNet's scaling
        out = self.net((rgb - self.mean) / self.std, output_hidden_states=True)
        return list(out.hidden_states[-4:])  # the four stages' outputs: strides 4, 8, 16, 32
