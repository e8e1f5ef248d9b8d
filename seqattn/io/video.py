"""Videos in: decode ahead in a background thread (PyAV, FFmpeg's libraries from the wheel), one row per frame.

Row i of every output is the i-th frame of the video's first video stream, in decoding order,
whatever the frame rate (constant or variable; each frame's time is kept). Frames are turned as
the file's rotation metadata says (as players and OpenCV show them): coordinates are in the
displayed frame. A packet that fails to decode is one frame that could not be read: it becomes
a NaN row at its place, with a warning naming it, so the rows after it keep their frame numbers.
Memory stays flat: at most ``queue_size`` decoded frames wait between the decoder and the model.

What the container announces, and what a decode found missing of it, are in
:mod:`seqattn.io.video_info`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqattn.io.files import printable
from seqattn.io.video_info import DecodeReport, open_video, quarter_turns

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
_END = object()


@dataclass
class Frame:
    """One decoded frame (or the place of one that failed to decode)."""

    index: int  # 0-based, in decoding order
    time_s: float | None  # presentation time; None when the frame could not be decoded
    image: np.ndarray | None  # (H, W, 3) uint8 RGB as displayed; None if not decoded or not kept
    size: tuple[int, int] | None = None  # (width, height) as displayed, at full resolution
    small: np.ndarray | None = None  # the frame resized to what ``small_size`` asked for, if it asked


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

    container = open_video(path)
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
    turns = quarter_turns(frame.rotation)
    width, height = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)  # displayed

    def shown(image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    image = shown(frame.to_ndarray(format="rgb24")) if keep_full or small_size is None else None
    small = None
    if small_size is not None:
        w, h = small_size(width, height)
        w, h = (h, w) if turns % 2 else (w, h)  # the stored frame is not yet turned
        how = "AREA" if w < frame.width or h < frame.height else "BILINEAR"  # as the codec's letterbox resizes
        # planar RGB out of the scaler: the same pixels as rgb24, packed by numpy faster than by swscale
        small = shown(frame.reformat(width=w, height=h, format="gbrp", interpolation=how).to_ndarray())
    time_s = float(frame.time) if frame.time is not None else None
    return Frame(index, time_s, image, (width, height), small)


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
    """The video files directly in ``folder`` (by suffix), sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
