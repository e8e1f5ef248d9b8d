"""What a video holds before decoding it (``probe``), and how much of it a decode did not find.

A video that ends before the frames its container announces (a file cut short: a copy or
recording that stopped) is not a short video. ``VideoInfo.frames_expected`` is the container's
frame count (``frames_counted``), else its duration times the frame rate (only an estimate: a
variable frame rate makes it wrong). ``shortfall`` compares what was read (``DecodeReport``)
with the count, or, without one, the last frame's time with the time the stream ends
(``ends_s``): predict.py fills the missing frames at the end with NaN rows up to a counted total
(without a count the rows end at the last frame read), warns with the video's name and the
counts, and records ``frames_expected``, ``frames_decoded`` and ``ended_early``. A file with no
decodable frame at all is a ``DataError`` (``probe`` raises it before any work).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seqattn.errors import DataError
from seqattn.io.files import printable


@dataclass
class VideoInfo:
    """The first video stream of a file, as its container describes it."""

    path: str
    width: int  # as displayed (after rotation)
    height: int
    rotation: int  # degrees the stored frames are turned for display (FFmpeg's sign: -90 = clockwise)
    fps: float  # the stream's average rate (frames per second)
    frames_expected: int  # what the container says, else duration x fps (0: unknown)
    codec: str
    pixel_format: str
    frames_counted: bool = True  # frames_expected is the container's count (False: estimated from the duration)
    ends_s: float = 0.0  # when the stream ends (its start plus its duration), seconds (0: unknown)


@dataclass
class DecodeReport:
    """What a decode of a video found, filled in while ``decode_frames`` runs."""

    failed: list[int] = field(default_factory=list)  # frame numbers that could not be decoded
    frames: int = 0  # frames read, those that failed to decode included
    last_time_s: float | None = None  # the time of the last frame decoded
    stopped: str | None = None  # why reading broke off before the end of the file (a truncated file)

    @property
    def decoded(self) -> int:
        """Frames read and decoded."""
        return self.frames - len(self.failed)


def shortfall(info: VideoInfo, report: DecodeReport) -> int:
    """Frames the container announced but the file did not hold. Without a count: the frames
    (at the average rate) between the last frame decoded and the end of the stream, when that is
    more than two frames and 1 % of the stream (0 when either time is unknown)."""
    if info.frames_counted:
        return max(0, info.frames_expected - report.frames)
    if not info.ends_s or report.last_time_s is None or info.fps <= 0:
        return 0
    missing = info.ends_s - report.last_time_s - 1 / info.fps  # seconds after the last frame's own
    return round(missing * info.fps) if missing > max(2 / info.fps, 0.01 * info.ends_s) else 0


def open_video(path: Path):
    """The PyAV container of ``path``; a DataError if it is missing, no video, or holds no video stream."""
    import av

    if not path.is_file():
        raise DataError(f"video not found: {printable(path)}")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise DataError(f"{printable(path)}: not a video FFmpeg can read ({exc})") from None
    if not container.streams.video:
        container.close()
        raise DataError(f"{printable(path)}: no video stream in the file")
    return container


def probe(path: Path) -> VideoInfo:
    """Size, rate and codec of the first video stream; a DataError if the file is no video or
    holds no frame that decodes."""
    container = open_video(path)
    try:
        stream = container.streams.video[0]
        first = _first_frame(container, stream)  # the rotation is a property of the decoded frames
        if first is None:
            raise DataError(f"{printable(path)}: no frame could be decoded (the file holds no readable video frame)")
        return _info(path, container, stream, int(first.rotation))
    finally:
        container.close()


def _first_frame(container, stream):
    """The first frame that decodes (packets that fail are passed over), None if none does."""
    import av

    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            if frames:
                return frames[0]
    except av.error.FFmpegError:  # the container breaks off
        pass
    return None


def _info(path: Path, container, stream, rotation: int) -> VideoInfo:
    """The VideoInfo of ``stream``, its size as displayed after ``rotation``."""
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    if quarter_turns(rotation) % 2:
        width, height = height, width
    counted = int(stream.frames or 0)
    if stream.duration and stream.time_base:
        start, seconds = float((stream.start_time or 0) * stream.time_base), float(stream.duration * stream.time_base)
    else:  # av.time_base: microseconds
        start, seconds = (container.start_time or 0) / 1_000_000, (container.duration or 0) / 1_000_000
    return VideoInfo(
        path=printable(path),
        width=width,
        height=height,
        rotation=rotation,
        fps=rate,
        frames_expected=counted or round(seconds * rate),
        codec=str(stream.codec_context.name),
        pixel_format=str(stream.codec_context.pix_fmt),
        frames_counted=counted > 0,
        ends_s=start + seconds if seconds else 0.0,
    )


def quarter_turns(rotation: float) -> int:
    """np.rot90's k for FFmpeg's display rotation (counter-clockwise degrees)."""
    return round(rotation / 90) % 4
