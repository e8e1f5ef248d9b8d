"""seqattn.inference.tracking: identities along a video from per-frame instances."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from seqattn.errors import ConfigError, DataError
from seqattn.inference.tracking import Tracks, assemble, track

BODY = np.array([[-10.0, 0.0], [0.0, 0.0], [10.0, -5.0]])  # (K, 2) keypoints around the centre: span 20.6 px


def animal(x: float, y: float) -> np.ndarray:
    return BODY + [x, y]


def frame(*animals: np.ndarray, scores=None) -> tuple[np.ndarray, np.ndarray]:
    coords = np.stack(animals) if animals else np.zeros((0, len(BODY), 2))
    return coords, np.asarray(scores if scores is not None else np.ones(len(animals)), dtype=float)


def identities(tracks: Tracks, order: list[list[str]]) -> dict[str, set[int]]:
    """{animal name: the set of track ids it was given} from the per-frame names of the instances."""
    seen: dict[str, set[int]] = {}
    for ids, names in zip(tracks.ids, order, strict=True):
        for i, name in zip(ids.tolist(), names, strict=True):
            seen.setdefault(name, set()).add(i)
    return seen


def crossing(dy: float) -> tuple[list, list[list[str]]]:
    """a moves right and b left, 8 px a frame, passing each other at frame 12.5 (``dy`` apart in y);
    the instances come in alternating order."""
    frames, order = [], []
    for f in range(26):
        a, b = animal(8.0 * f, 50), animal(200 - 8.0 * f, 50 + dy)
        frames.append(frame(a, b) if f % 2 else frame(b, a))
        order.append(["a", "b"] if f % 2 else ["b", "a"])
    return frames, order


def test_two_animals_that_cross_keep_their_identities_thanks_to_velocity():
    frames, order = crossing(dy=4.0)
    # the case is hard: matching each instance to the nearest last position swaps them at frame 13
    last, now = frames[12][0], frames[13][0]  # frame 12: (a, b); frame 13: (b, a)
    cost = np.linalg.norm(now[:, None] - last[None], axis=-1).mean(-1)
    rows, cols = linear_sum_assignment(cost)
    assert cols[rows == 1].item() == 1  # a (row 1 of frame 13) goes to b's last position: a swap

    tracks = track(frames)
    seen = identities(tracks, order)
    assert len(seen["a"]) == 1 and len(seen["b"]) == 1 and seen["a"] != seen["b"]
    assert (tracks.num_tracks, tracks.relinked, tracks.ambiguous, tracks.dropped) == (2, 0, 0, 0)


def test_two_animals_on_top_of_each_other_make_one_ambiguous_frame():
    frames = [frame(animal(8.0 * f, 50), animal(192 - 8.0 * f, 50)) for f in range(26)]
    tracks = track(frames)
    assert tracks.ambiguous == 1  # frame 12, both at x = 96: either assignment costs the same
    a = [ids[0] for f, ids in enumerate(tracks.ids) if f != 12]
    assert set(a) == {0} and tracks.num_tracks == 2  # the velocity carries each through the meeting


def test_an_animal_missing_for_a_few_frames_is_relinked():
    walker = [animal(20 + 5.0 * f, 100) for f in range(30)]
    still = animal(300, 300)
    frames = [frame(still) if 10 <= f < 14 else frame(walker[f], still) for f in range(30)]
    tracks = track(frames)
    walker_ids = {int(ids[0]) for f, ids in enumerate(tracks.ids) if not 10 <= f < 14}
    assert walker_ids == {0} and {int(ids[-1]) for ids in tracks.ids} == {1}
    assert (tracks.num_tracks, tracks.relinked) == (2, 1)
    assert tracks.summary() == "2 tracks; 1 re-linked after a gap; 0 ambiguous frames; 0 instances dropped"


def test_max_tracks_relinks_an_animal_that_comes_back_far_away_instead_of_starting_a_track():
    frames = [frame(animal(20 + 2.0 * f, 100), animal(300, 300)) for f in range(10)]
    frames += [frame(animal(300, 300))] * 3
    frames += [frame(animal(150, 400), animal(300, 300)) for _ in range(5)]  # back, far beyond the gate
    free = track(frames)
    assert (free.num_tracks, free.relinked) == (3, 0)  # without a count of animals: a new identity
    known = track(frames, max_tracks=2)
    assert (known.num_tracks, known.relinked) == (2, 1)
    assert [int(ids[0]) for ids in known.ids[:10] + known.ids[13:]] == [0] * 15
    assert [int(ids[-1]) for ids in known.ids] == [1] * 18


def test_max_tracks_drops_the_lowest_scores():
    frames = [
        frame(animal(0, 10.0 * f), animal(100, 10.0 * f), animal(200, 10.0 * f), scores=[0.9, 0.2, 0.8])
        for f in range(5)
    ]
    tracks = track(frames, max_tracks=2)
    assert all(ids.tolist() == [0, -1, 1] for ids in tracks.ids)
    assert (tracks.num_tracks, tracks.dropped) == (2, 5)
    assert tracks.summary() == "2 tracks; 0 re-linked after a gap; 0 ambiguous frames; 5 instances dropped"
    assert track(frames).num_tracks == 3


def test_empty_frames_are_gaps():
    frames = [frame(), frame(animal(0, 0))] + [frame()] * 3 + [frame(animal(10, 0)), frame()]
    tracks = track(frames)
    assert [ids.tolist() for ids in tracks.ids] == [[], [0], [], [], [], [0], []]
    assert (tracks.num_tracks, tracks.relinked) == (1, 1)
    assert (
        track([frame()] * 4).summary() == "0 tracks; 0 re-linked after a gap; 0 ambiguous frames; 0 instances dropped"
    )


def test_a_crossing_with_missing_keypoints_keeps_identities():
    frames, order = crossing(dy=4.0)
    rng = np.random.default_rng(0)
    for coords, _ in frames:
        for inst in coords:
            inst[rng.integers(3)] = np.nan  # a different keypoint missing each time
    frames.append(frame(np.full((3, 2), np.nan), animal(8.0 * 26, 50), scores=[1.0, 0.5]))
    order.append(["nothing", "a"])
    seen = identities(track(frames), order)
    assert seen["nothing"] == {-1}  # no keypoint at all: no identity
    assert len(seen["a"]) == 1 and len(seen["b"]) == 1 and seen["a"] != seen["b"]


def test_assemble_lays_out_each_track_with_nan_where_absent():
    frames = [frame(animal(0, 0), animal(100, 0), scores=[0.9, 0.7]), frame(), frame(animal(101, 0), scores=[0.6])]
    tracks = track(frames)
    coords, scores = assemble(frames, tracks, num_keypoints=3)
    assert coords.shape == (3, 2, 3, 2) and scores.shape == (3, 2)
    np.testing.assert_array_equal(coords[2, 1], animal(101, 0))
    assert np.isnan(coords[1]).all() and np.isnan(coords[2, 0]).all()
    np.testing.assert_array_equal(scores, [[0.9, 0.7], [np.nan, np.nan], [np.nan, 0.6]])


def test_bad_inputs_are_refused_with_the_frame():
    with pytest.raises(DataError, match="frame 1"):
        track([frame(animal(0, 0)), (np.zeros((2, 3)), np.ones(2))])
    with pytest.raises(DataError, match="keypoints"):
        track([frame(animal(0, 0)), (np.zeros((1, 4, 2)), np.ones(1))])
    with pytest.raises(ConfigError, match="max_tracks"):
        track([], max_tracks=0)
