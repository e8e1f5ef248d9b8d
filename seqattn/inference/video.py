"""Videos in: decode ahead in a background thread (PyAV, FFmpeg's libraries from the wheel), one row per frame.

Row i of every output is the i-th frame of the video's first video stream, in decoding order,
whatever the frame rate (constant or variable; each frame's time is kept). Frames are turned as
the file's rotation metadata says (as players and OpenCV show them): coordinates are in the
displayed frame. A packet that fails
to decode is one frame that could not be read: it becomes a NaN row at its place, with a
warning naming it, so the rows after it keep their frame numbers. Memory stays flat: at most
``queue_size`` decoded frames wait between the decoder and the model.

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

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqattn.errors import DataError
from seqattn.inference.tables import printable

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
_END = object()


@dataclass
class VideoInfo:
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
class Frame:
    index: int  # 0-based, in decoding order
    time_s: float | None  # presentation time; None when the frame could not be decoded
    image: np.ndarray | None  # (H, W, 3) uint8 RGB as displayed; None if not decoded or not kept
    size: tuple[int, int] | None = None  # (width, height) as displayed, at full resolution
    small: np.ndarray | None = None  # the frame resized to what ``small_size`` asked for, if it asked


@dataclass
class DecodeReport:
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


def _open(path: Path):
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
    container = _open(path)
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
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    if _quarter_turns(rotation) % 2:
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


def decode_frames(
    path: Path,
    report: DecodeReport,
    small_size: Callable[[int, int], tuple[int, int]] | None = None,
    keep_full: bool = True,
) -> Iterator[Frame]:
    """Every frame of ``path`` in order (failed ones as ``image=None``), decoded in this thread.

    ``small_size(width, height)`` -> (w, h): also give each frame resized to that size (area
    averaging when shrinking, bilinear when enlarging, in FFmpeg's scaler, in the same pass as
    the colour conversion: faster than converting at full size and resizing; within a grey level
    of OpenCV's INTER_AREA). Without ``keep_full`` only that small frame is made.
    """
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                if packet.size == 0:  # the final flush: nothing was lost
                    continue
                log.warning(f"{printable(path)}: frame {index} could not be decoded ({exc}); its row is NaN")
                report.failed.append(index)
                index = report.frames = index + 1
                yield Frame(index - 1, None, None)
                continue
            for frame in frames:
                converted = _convert(frame, index, small_size, keep_full)
                index = report.frames = index + 1
                report.last_time_s = converted.time_s if converted.time_s is not None else report.last_time_s
                yield converted
    except av.error.FFmpegError as exc:  # the container itself breaks off (truncated file)
        log.warning(f"{printable(path)}: reading stopped after frame {index - 1} ({exc})")
        report.stopped = str(exc)
    finally:
        container.close()


def _convert(frame, index: int, small_size, keep_full: bool) -> Frame:
    """A decoded PyAV frame -> Frame, turned as displayed (OpenCV does the same)."""
    turns = _quarter_turns(frame.rotation)
    width, height = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)  # displayed

    def shown(image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    image = shown(frame.to_ndarray(format="rgb24")) if keep_full or small_size is None else None
    small = None
    if small_size is not None:
        w, h = small_size(width, height)
        w, h = (h, w) if turns % 2 else (w, h)  # the stored frame is not yet turned
        how = "AREA" if w < frame.width or h < frame.height else "BILINEAR"  # as the codec's letterbox resizes
        small = shown(frame.reformat(width=w, height=h, format="rgb24", interpolation=how).to_ndarray())
    time_s = float(frame.time) if frame.time is not None else None
    return Frame(index, time_s, image, (width, height), small)


def _quarter_turns(rotation: float) -> int:
    """np.rot90's k for FFmpeg's display rotation (counter-clockwise degrees)."""
    return round(rotation / 90) % 4


def read_ahead(frames: Iterator[Frame], queue_size: int = 64) -> Iterator[Frame]:
    """Run ``frames`` in a background thread, at most ``queue_size`` frames ahead; errors re-raise here."""
    q: queue.Queue = queue.Queue(maxsize=queue_size)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            q.put(exc)

    thread = threading.Thread(target=work, name="video-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def list_videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
