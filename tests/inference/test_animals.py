"""seqattn.inference.animals: several tracked animals written as multi-animal DeepLabCut tables (read
by movement), SLEAP .slp and NWB with a track per identity, and a labelled video coloured by identity."""

import os

import av
import numpy as np
import pandas as pd
import pytest
import sleap_io as sio

from seqattn.errors import DataError
from seqattn.inference import animals
from seqattn.inference.animals import TrackedPoses, write_tracked_outputs, write_tracked_video
from seqattn.inference.labeled_video import distinct_colours
from seqattn.inference.tables import H5_KEY
from seqattn.io.video_info import VideoInfo

TRACKS = ["mouse_a", "mouse_b"]
KEYPOINTS = ["snout", "tail", "ear"]


def poses(frames: int = 6, absent=((1, 1), (3, 1), (4, 0), (2, 0), (2, 1))) -> TrackedPoses:
    """Two animals, three keypoints; (frame, identity) pairs in ``absent`` are NaN (frame 2: none)."""
    rng = np.random.default_rng(0)
    coords = rng.uniform(0, 100, (frames, 2, 3, 2))
    likelihood = rng.uniform(0.5, 1, (frames, 2, 3)).astype(np.float32)
    score = rng.uniform(0.5, 1, (frames, 2)).astype(np.float32)
    for f, n in absent:
        coords[f, n], likelihood[f, n], score[f, n] = np.nan, np.nan, np.nan
    return TrackedPoses(coords, likelihood, score, list(TRACKS), list(KEYPOINTS))


def test_movement_reads_the_tables_with_an_individuals_dimension(tmp_path):
    load_poses = pytest.importorskip("movement.io.load_poses")
    tracked = poses()
    paths = write_tracked_outputs(tmp_path / "walk", tracked, "seqattn_scorer")
    assert set(paths) == {"h5", "csv"}
    table = pd.read_hdf(paths["h5"], H5_KEY)
    assert list(table.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(table.index) == list(range(6))
    for suffix in ("h5", "csv"):
        ds = load_poses.from_dlc_file(paths[suffix])
        assert ds.sizes["individuals"] == 2 and list(ds.individuals.values) == TRACKS
        assert list(ds.keypoints.values) == KEYPOINTS and ds.sizes["time"] == 6
        position = ds.position.transpose("time", "individuals", "keypoints", "space").to_numpy()
        np.testing.assert_allclose(position, tracked.coords, equal_nan=True)  # NaN where absent, at its place
        assert np.isnan(position[1, 1]).all() and np.isnan(position[2]).all() and np.isfinite(position[1, 0]).all()
        confidence = ds.confidence.transpose("time", "individuals", "keypoints").to_numpy()
        np.testing.assert_allclose(confidence, tracked.likelihood, rtol=1e-6, equal_nan=True)


def test_slp_has_a_track_per_identity_and_no_frame_without_animals(tmp_path):
    from pynwb import NWBHDF5IO

    tracked, video = poses(), tmp_path / "walk.mp4"
    times = [i / 30 for i in range(6)]
    paths = write_tracked_outputs(tmp_path / "out" / "walk", tracked, "s", video, ("slp", "nwb"), times=times, fps=30)
    assert set(paths) == {"slp", "nwb"} and paths["slp"].name == "walk.predictions.slp"

    labels = sio.load_slp(str(paths["slp"]))
    assert [t.name for t in labels.tracks] == TRACKS and labels.skeletons[0].node_names == KEYPOINTS
    assert labels.videos[0].filename == str(video.resolve())
    assert [lf.frame_idx for lf in labels.labeled_frames] == [0, 1, 3, 4, 5]  # frame 2: no animal
    for lf in labels.labeled_frames:
        present = np.flatnonzero(tracked.present[lf.frame_idx])
        assert [i.track.name for i in lf.predicted_instances] == [TRACKS[n] for n in present]
        for instance, n in zip(lf.predicted_instances, present, strict=True):
            np.testing.assert_allclose(instance.numpy(), tracked.coords[lf.frame_idx, n])
            np.testing.assert_allclose(instance.numpy(scores=True)[:, 2], tracked.likelihood[lf.frame_idx, n])
            assert instance.score == pytest.approx(tracked.score[lf.frame_idx, n])
    np.testing.assert_allclose(labels.numpy(), tracked.coords, equal_nan=True)  # (F, N, K, 2) by track

    # sleap-io's NWB reader gives the instances back (without their tracks), ...
    read = sio.load_nwb(str(paths["nwb"]))
    got = sorted(tuple(i.numpy().round(4).ravel()) for lf in read.labeled_frames for i in lf.instances)
    want = sorted(tuple(tracked.coords[f, n].round(4).ravel()) for f, n in np.argwhere(tracked.present))
    np.testing.assert_allclose(np.array(got), np.array(want), atol=1e-3)
    # ... and each track is its own PoseEstimation, its points at their frames' times
    with NWBHDF5IO(str(paths["nwb"]), "r") as io:
        (module,) = [m for name, m in io.read().processing.items() if name.startswith("SLEAP_VIDEO")]
        assert sorted(module.data_interfaces) == [f"track={t}" for t in TRACKS]
        for n, track in enumerate(TRACKS):
            frames = np.flatnonzero(tracked.present[:, n])
            for k, name in enumerate(KEYPOINTS):
                series = module.data_interfaces[f"track={track}"].pose_estimation_series[name]
                np.testing.assert_allclose(series.data[:], tracked.coords[frames, n, k], atol=1e-4)
                np.testing.assert_allclose(series.confidence[:], tracked.likelihood[frames, n, k], atol=1e-6)
                stamps = series.timestamps
                stamps = stamps[:] if stamps is not None else series.starting_time + np.arange(len(frames)) / 30
                np.testing.assert_allclose(stamps, frames / 30, atol=1e-6)


def test_a_failed_file_leaves_none_of_the_set(tmp_path, monkeypatch):
    def full_disk(labels, path, *args):
        path.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(animals, "write_nwb", full_disk)
    with pytest.raises(DataError, match="walk.nwb.*No space left"):
        write_tracked_outputs(tmp_path / "walk", poses(), "s", tmp_path / "walk.mp4", ("dlc", "slp", "nwb"))
    assert os.listdir(tmp_path) == []  # neither the tables nor the .slp written before it, no temporaries


def test_poses_of_the_wrong_shape_or_names_are_refused():
    tracked = poses()
    with pytest.raises(ValueError, match="distinct track names"):
        TrackedPoses(tracked.coords, tracked.likelihood, tracked.score, ["a", "a"], KEYPOINTS)
    with pytest.raises(ValueError, match=r"\(F, N\)"):
        TrackedPoses(tracked.coords, tracked.likelihood, tracked.score[:, :1], TRACKS, KEYPOINTS)


def nearest(pixel: np.ndarray, colours: list[tuple[int, int, int]]) -> int:
    return int(np.argmin([np.abs(pixel.astype(float) - c).sum() for c in colours]))


def test_labelled_video_colours_each_identity_and_names_it(tmp_path):
    w, h, frames = 480, 360, 4
    coords = np.array([[[100, 200], [140, 230]], [[330, 200], [370, 230]]], float)  # (N=2, K=2, 2)
    coords = np.repeat(coords[None], frames, 0)
    likelihood = np.full((frames, 2, 2), 0.9, np.float32)
    coords[3, 1], likelihood[3, 1] = np.nan, np.nan  # identity 1 leaves in frame 3
    tracked = TrackedPoses(coords, likelihood, np.ones((frames, 2), np.float32), ["red_one", "cyan_one"], ["a", "b"])
    info = VideoInfo(str(tmp_path / "in.mp4"), w, h, 0, 30.0, frames, "h264", "yuv420p")
    images = [np.full((h, w, 3), 40, np.uint8) for _ in range(frames)]
    path = write_tracked_video(tmp_path / "walk_labeled.mp4", images, info, tracked, pcutoff=0.5)
    assert [p.name for p in tmp_path.iterdir()] == ["walk_labeled.mp4"]
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == frames
    colours = distinct_colours(2)
    background = (40, 40, 40)
    for f, image in enumerate(decoded):
        for n in range(2):
            for x, y in coords[0, n].astype(int):
                patch = image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0)
                expected = n if not (f == 3 and n == 1) else 2  # 2: the background, the animal gone
                assert nearest(patch, [*colours, background]) == expected, (f, n, patch)
            # the track name, above the animal's top left, in its colour
            x0, y0 = coords[0, n].min(0).astype(int)
            text = image[y0 - 30 : y0, x0 : x0 + 80].reshape(-1, 3)
            own = [nearest(p, [*colours, background]) == n for p in text if np.abs(p.astype(int) - 40).sum() > 120]
            assert (sum(own) > 20) == (not (f == 3 and n == 1)), (f, n, sum(own))
