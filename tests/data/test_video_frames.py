"""seqattn.data.video_frames: frame pairs drawn from videos for the label-free terms."""

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ON, TINY, run_train

from seqattn.data.codec import KeypointCodec, image_to_tensor, image_to_uint8
from seqattn.data.video_frames import UnlabelledFrames, find_videos, pack, spread_picks, unpack
from seqattn.errors import DataError
from seqattn.io.video import decode_frames
from seqattn.io.video_info import DecodeReport


def test_picks_spread_over_every_recording_in_proportion():
    picks = spread_picks([101, 301, 1], 8)
    assert [len(p) for p in picks] == [2, 6, 0]  # a 1-frame video has no frame pair
    assert picks[1] == [0, 50, 100, 150, 200, 250] and all(t + 1 < 301 for t in picks[1])


def test_frames_are_letterboxed_with_their_next_frame(videos):
    codec = KeypointCodec(32)
    frames = UnlabelledFrames(find_videos(videos), codec, frames=10, cache_mb=64)
    assert len(frames) == 10 and {v for v, _ in frames.sources} == {str(videos / "a.mp4"), str(videos / "b.mp4")}
    item = frames[0]
    assert item["image"].shape == item["next"].shape == (3, 32, 32)
    assert not torch.equal(item["image"], item["next"])  # the creature walks
    # at the video's own width (no resizing) a frame is exactly the letterbox the labelled images get
    exact = UnlabelledFrames(find_videos(videos / "a.mp4"), KeypointCodec(64), frames=3, cache_mb=64)
    video, t = exact.sources[1]
    decoded = next(f for f in decode_frames(Path(video), DecodeReport()) if f.index == t)
    assert torch.equal(exact[1]["image"], image_to_uint8(KeypointCodec(64).letterbox(decoded.image)[0]))


def test_the_memory_bound_keeps_pairs_spread_over_the_recordings(videos):
    codec = KeypointCodec(32)
    every = UnlabelledFrames(find_videos(videos), codec, frames=10, cache_mb=64)
    bound = every.memory_mb / 3
    small = UnlabelledFrames(find_videos(videos), codec, frames=10, cache_mb=bound)
    assert 1 <= len(small) < len(every) / 2 and small.memory_mb <= bound
    assert small.stride >= 4 and small.sources == every.sources[:: small.stride]  # every stride-th draw
    with pytest.raises(DataError, match="unlabelled_cache_mb=1e-06 holds no frame pair"):
        UnlabelledFrames(find_videos(videos), codec, frames=10, cache_mb=1e-6)


@pytest.mark.parametrize("channels", [3, 1])
def test_packed_frames_come_back_exactly(channels):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    if channels == 1:  # a grey frame: its channels are equal, and it is packed as one
        image[...] = image[..., :1]
    packed = pack(image)
    back = unpack(packed)
    assert torch.equal(image_to_tensor(back), image_to_tensor(image))
    assert back.ndim == (3 if channels == 3 else 2)


def test_missing_or_empty_video_paths_are_named(videos, tmp_path):
    with pytest.raises(DataError, match="gone.mp4 does not exist"):
        find_videos([str(videos / "a.mp4"), str(tmp_path / "gone.mp4")])
    with pytest.raises(DataError, match="no video"):
        find_videos(str(tmp_path))
    with pytest.raises(DataError, match="notes.txt"):
        UnlabelledFrames([videos / "notes.txt"], KeypointCodec(32), 4, 64)


def test_a_bad_video_is_one_line_before_anything_is_written(videos, tmp_path):
    result = run_train(tmp_path, *TINY, *ON, f"data.unlabelled={videos / 'notes.txt'}")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "notes.txt" in lines[0], result.stderr
    assert not (tmp_path / "outputs").exists()
