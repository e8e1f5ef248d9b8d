"""seqattn.training.data_stats: where the animal is in the frame (position spread, travel in its own
size), measured on label sets built here, on frames of several animals and on the shared datasets,
and the rotation range it leads to."""

import math

import numpy as np
import pytest
from helpers import shared_or_skip, stats

from seqattn.data import KeypointSource, RawSample
from seqattn.data.formats.dlc import DLCSource
from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.training.adapt import resolve_auto
from seqattn.training.choices import SPREAD_HEADINGS, choose_rotation
from seqattn.training.data_stats import measure, position

SHAPE = np.array([[20.0, 0], [-25, 0], [12, -6], [12, 6], [0, 8]])  # snout, tail, ears, a paw: facing +x


def placed(centres: np.ndarray, scale: float = 1.0, heading_deg: float = -90.0) -> list[np.ndarray]:
    """The 5-point animal at one heading (default: up the image), ``scale`` times as large, with its
    box centred at each of ``centres`` ((N, 2) pixels)."""
    h = math.radians(heading_deg)
    pts = scale * SHAPE @ np.array([[math.cos(h), -math.sin(h)], [math.sin(h), math.cos(h)]]).T
    pts = pts - (pts.min(0) + pts.max(0)) / 2
    return [pts + c for c in centres]


def view(points: list[np.ndarray], shape=(480, 640, 3)) -> tuple[float, str]:
    """The rotation chosen for these labels (one heading: pose alignment 0.99) in frames of ``shape``."""
    return choose_rotation(stats(max(shape[:2]), 50, **position([(p, shape) for p in points]), pose_alignment=0.99))


def test_one_heading_over_an_arena_is_any_heading_the_same_animal_centred_is_not():
    rng = np.random.default_rng(0)
    arena = placed(rng.uniform([40, 40], [600, 440], (64, 2)))  # wandering over the frame, facing up
    spread = position([(p, (480, 640, 3)) for p in arena])
    assert spread["position_spread"][0] > 0.6 and spread["position_spread"][1] > 0.6 and spread["travel_spans"] > 4
    degrees, why = view(arena)
    assert degrees == 180 and "an arena seen from above" in why and "of the width" in why
    centred = placed(np.array([320, 240]) + rng.normal(0, 5, (64, 2)))  # a fixed rig, a treadmill
    assert view(centred)[0] == 25 and "a fixed view" in view(centred)[1]
    runway = placed(np.c_[rng.uniform(40, 600, 64), rng.normal(300, 5, 64)], heading_deg=0)  # side view
    assert view(runway)[0] == 25
    face = placed(np.array([320, 240]) + rng.normal(0, 90, (64, 2)), scale=6)  # large, off-centre
    assert position([(p, (480, 640, 3)) for p in face])["position_spread"][1] > 0.4 and view(face)[0] == 25


def test_too_few_animals_or_labels_leave_the_position_unknown():
    assert position([(p, (480, 640, 3)) for p in placed(np.full((7, 2), 100.0))]) == {}
    one_point = [np.array([[10.0, 10], [np.nan, np.nan]])] * 20
    assert position([(p, (48, 64, 3)) for p in one_point]) == {}


class Walk(KeypointSource):
    """A labelled clip from above: the animal walks up along the left wall, facing up in every
    frame; 64 x 48 black images."""

    keypoint_names = ["snout", "tail", "ear1", "ear2", "paw"]

    def __init__(self) -> None:
        pts = placed(np.c_[np.full(24, 10.0), np.linspace(40, 8, 24)], scale=0.2)
        image = np.zeros((48, 64, 3), np.uint8)
        samples = [RawSample(image, p, f"img{i}") for i, p in enumerate(pts)]
        self._splits = {"train": samples[:20], "val": samples[20:], "test": samples[20:]}

    def splits(self):
        return self._splits


def test_a_clip_at_one_heading_moving_down_the_frame_trains_with_any_rotation(make_cfg):
    """Why the view comes first: every frame faces one way, so the headings alone say a fixed
    view and small tilts, and the model would fail when the animal turns later in the recording."""
    walk = measure(Walk())
    assert walk.pose_alignment >= SPREAD_HEADINGS  # one heading: the headings alone said small tilts
    assert walk.position_spread[0] < 0.05 and walk.position_spread[1] > 0.4
    cfg, adaptive = resolve_auto(make_cfg("data.augment.rotate=auto"), walk)
    assert cfg.data.augment.rotate == 180
    assert "an arena seen from above" in adaptive["chosen"]["data.augment.rotate"]["reason"]


def test_several_animals_are_placed_on_their_whole_frames_and_turn_freely():
    source = SyntheticSource(num_train=16, num_val=4, num_test=4, animals=2)
    frames = measure(source)
    assert frames.layout is not None
    # the crops centre on each animal; the whole frames show where the creatures are
    crops = position([(s.keypoints, s.image.shape) for s in (source.splits()["train"][i] for i in range(16))])
    assert crops["position_spread"][1] < 0.2 < frames.position_spread[1]
    degrees, why = choose_rotation(frames)
    assert degrees == 180 and why.startswith("several animals in a frame")


@pytest.mark.parametrize(("name", "degrees", "why"), [("openfield", 180, "arena"), ("mirror-mouse", 25, "fixed view")])
def test_the_shared_datasets_read_as_an_arena_from_above_and_a_fixed_view(name, degrees, why):
    root = shared_or_skip(name)
    got, reason = choose_rotation(measure(DLCSource(str(root), split_file=str(root / "splits.json"))))
    assert got == degrees and why in reason, reason
