"""seqattn.data.formats.slp: SLEAP .slp labels through sleap-io (image files, videos, packages)."""

from pathlib import Path

import numpy as np
import pytest
import sleap_io as sio
from helpers import compose_cfg, shared_or_skip

from seqattn.data.formats.slp import SLPSource
from seqattn.data.synthetic.names import keypoint_names
from seqattn.data.synthetic.walk import render_video
from seqattn.errors import DataError
from seqattn.io.video import decode_frames
from seqattn.io.video_info import DecodeReport
from seqattn.training.train import train

# The tiny loader settings (TINY's data.* keys go with the synthetic data group).
LOADER = ["data.batch_size=8", "data.num_workers=0", "data.epoch_size=0"]


def openfield_slp(folder: Path) -> Path:
    """The shared openfield labels converted by sleap-io itself (image files, DeepLabCut's names)."""
    (csv,) = sorted((shared_or_skip("openfield") / "labeled-data").glob("*/CollectedData_*.csv"))
    path = folder / "openfield.slp"
    sio.save_slp(sio.load_dlc(str(csv)), str(path), verbose=False)
    return path


def walk_labels(folder: Path, frames: int = 6) -> tuple[sio.Labels, np.ndarray]:
    """Labels of a rendered walk video (the creature's true keypoints), the video beside them."""
    video_path = folder / "walk.mp4"
    truth = render_video(str(video_path), frames=frames, width=64, height=48)  # (frames, 10, 2)
    skeleton = sio.Skeleton(keypoint_names(10), name="creature")
    video = sio.Video.from_filename(str(video_path))
    lfs = [
        sio.LabeledFrame(video=video, frame_idx=i, instances=[sio.Instance.from_numpy(truth[i], skeleton)])
        for i in range(frames)
    ]
    return sio.Labels(labeled_frames=lfs, videos=[video], skeletons=[skeleton]), truth


def all_samples(source: SLPSource) -> dict:
    return {s.name: s for split in source.splits().values() for s in (split[i] for i in range(len(split)))}


def test_openfield_slp_reads_as_the_deeplabcut_labels_do(tmp_path):
    from seqattn.data.formats.dlc import DLCSource

    slp = SLPSource(str(openfield_slp(tmp_path)), split_fractions=(1.0, 0.0, 0.0))
    dlc = DLCSource(str(shared_or_skip("openfield")), split_fractions=(1.0, 0.0, 0.0))
    assert sorted(slp.keypoint_names) == sorted(dlc.keypoint_names)  # sleap-io orders the nodes its own way
    order = [slp.keypoint_names.index(n) for n in dlc.keypoint_names]

    def pair_names(source):
        return {frozenset(source.keypoint_names[i] for i in pair) for pair in source.flip_pairs}

    assert pair_names(slp) == pair_names(dlc) == {frozenset({"leftear", "rightear"})}
    by_file = {Path(name).name: s for name, s in all_samples(dlc).items()}
    samples = all_samples(slp)
    assert len(samples) == len(by_file) == 116
    for name, sample in list(samples.items())[:10]:
        twin = by_file[Path(name).name]
        np.testing.assert_array_equal(sample.image, twin.image)
        np.testing.assert_allclose(sample.keypoints[order], twin.keypoints, atol=1e-6, equal_nan=True)


def test_a_slp_project_trains_with_one_command(tmp_path):
    slp = openfield_slp(tmp_path)
    summary = train(compose_cfg(tmp_path / "run", "data=slp", f"data.path={slp}", "trainer.max_epochs=1", *LOADER))
    assert np.isfinite(summary.test_metrics["test/epe_px"])
    assert Path(summary.best_checkpoint).is_file()


def test_frames_come_from_the_video_and_from_a_package(tmp_path):
    labels, truth = walk_labels(tmp_path)
    sio.save_slp(labels, str(tmp_path / "walk.slp"), verbose=False)
    sio.save_slp(labels, str(tmp_path / "walk.pkg.slp"), embed="user", verbose=False)
    decoded = [f.image for f in decode_frames(tmp_path / "walk.mp4", DecodeReport())]
    for name in ("walk.slp", "walk.pkg.slp"):
        samples = all_samples(SLPSource(str(tmp_path / name), split_fractions=(1.0, 0.0, 0.0)))
        assert len(samples) == len(truth)
        for key, sample in samples.items():
            index = int(key.rsplit("#", 1)[1])
            np.testing.assert_allclose(sample.keypoints, truth[index], atol=1e-4)
            # the same frame our own decoder reads (a package re-encodes it: allow its rounding)
            assert np.abs(sample.image.astype(int) - decoded[index].astype(int)).mean() < 3


def test_several_instances_crop_to_each_and_symmetries_come_from_the_skeleton(tmp_path):
    labels, truth = walk_labels(tmp_path, frames=3)
    skeleton = labels.skeletons[0]
    skeleton.add_symmetry("snout", "tailtip")  # names that would never pair: the file says they do
    lf = labels.labeled_frames[0]
    lf.instances.append(sio.Instance.from_numpy(truth[0] * 0.3 + 1, skeleton))  # a second, smaller animal
    sio.save_slp(labels, str(tmp_path / "two.slp"), verbose=False)
    source = SLPSource(str(tmp_path / "two.slp"))  # the smallest split: one image each
    names = source.keypoint_names
    assert (names.index("snout"), names.index("tailtip")) in {tuple(sorted(p)) for p in source.flip_pairs}
    side = source.layout.crop_px
    samples = all_samples(source)
    assert len(samples) == 4  # frame 0's two animals, frames 1 and 2's one: every animal a crop
    assert {s.image.shape[:2] for s in samples.values()} == {(side, side)}
    small = next(s for n, s in samples.items() if n.endswith("#0#1"))
    pts = small.keypoints[np.isfinite(small.keypoints).all(1)]
    centre = (pts.min(0) + pts.max(0)) / 2  # the anchor (auto: its box centre) sits in the crop's middle
    assert np.abs(centre - (side - 1) / 2).max() <= 1.0
    frames = source.frames()
    assert sum(len(f) for f in frames.values()) == 3 and source.layout.max_animals == 2


def test_an_animal_with_one_labelled_point_is_skipped(tmp_path):
    labels, truth = walk_labels(tmp_path, frames=3)
    lf, skeleton = labels.labeled_frames[0], labels.skeletons[0]
    lone = np.full_like(truth[0], np.nan)
    lone[0] = truth[0][0]
    lf.instances.append(sio.Instance.from_numpy(lone, skeleton))  # one labelled point: no extent
    sio.save_slp(labels, str(tmp_path / "lone.slp"), verbose=False)
    samples = all_samples(SLPSource(str(tmp_path / "lone.slp")))
    assert not any(n.endswith("#0#1") for n in samples) and len(samples) == 3


def test_split_files_name_frames_by_the_stored_path_or_the_resolved_one(tmp_path):
    import json

    labels, _ = walk_labels(tmp_path, frames=6)
    labels.videos[0].replace_filename("walk.mp4", open=False)  # stored relative to the file, as SLEAP does
    sio.save_slp(labels, str(tmp_path / "walk.slp"), verbose=False)
    resolved = sio.load_slp(str(tmp_path / "walk.slp")).videos[0].filename
    stored = "walk.mp4"
    assert resolved != stored
    for video in (stored, resolved):
        keys = [f"{video}#{i}" for i in range(6)]
        (tmp_path / "split.json").write_text(json.dumps({"train": keys[:4], "val": keys[4:5], "test": keys[5:]}))
        source = SLPSource(str(tmp_path / "walk.slp"), split_file=str(tmp_path / "split.json"))
        assert [len(source.splits()[s]) for s in ("train", "val", "test")] == [4, 1, 1]
        assert source.splits()["test"][0].name == f"{stored}#5"  # named as the file stores it


def test_dataloader_workers_read_the_same_frames(tmp_path):
    """Workers forked after the images were checked open the videos themselves."""
    from torch.utils.data import DataLoader

    labels, _ = walk_labels(tmp_path, frames=8)
    sio.save_slp(labels, str(tmp_path / "walk.slp"), verbose=False)
    split = SLPSource(str(tmp_path / "walk.slp"), split_fractions=(1.0, 0.0, 0.0)).splits()["train"]
    direct = [split[i].image for i in range(len(split))]
    loader = DataLoader(split, batch_size=None, num_workers=2, collate_fn=lambda sample: sample.image)
    for image, expected in zip(loader, direct, strict=True):
        np.testing.assert_array_equal(image, expected)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(DataError, match="missing.slp"):
        SLPSource(str(tmp_path / "missing.slp"))
    (tmp_path / "junk.slp").write_text("not hdf5")
    with pytest.raises(DataError, match="junk.slp: not a readable SLEAP labels file"):
        SLPSource(str(tmp_path / "junk.slp"))
    labels, _ = walk_labels(tmp_path, frames=2)
    sio.save_slp(labels, str(tmp_path / "walk.slp"), verbose=False)
    (tmp_path / "walk.mp4").unlink()
    with pytest.raises(DataError, match=r"walk.slp: video .*walk.mp4 not found"):
        SLPSource(str(tmp_path / "walk.slp"))
    labels.skeletons.append(sio.Skeleton(["a", "b"], name="other"))
    sio.save_slp(labels, str(tmp_path / "two_skeletons.slp"), verbose=False)
    with pytest.raises(DataError, match="2 skeletons.*data.source.skeleton"):
        SLPSource(str(tmp_path / "two_skeletons.slp"))
