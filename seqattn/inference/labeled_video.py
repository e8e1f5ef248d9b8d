"""A labelled copy of a video: every frame, the same rate, a fixed colour per keypoint (H.264, .mp4);
with several tracked animals (``tracks``), a fixed colour per identity and its track name beside it."""

from __future__ import annotations

import colorsys
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from seqattn.errors import DataError
from seqattn.inference.tables import printable
from seqattn.io.video_info import VideoInfo


def distinct_colours(k: int) -> list[tuple[int, int, int]]:
    """K distinct RGB colours (one per keypoint, or per identity), the same for the same K in every video."""
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / max(1, k), 0.9, 1.0)) for i in range(k)]


class LabeledVideoWriter:
    """Draws points (those with likelihood >= ``pcutoff``) and an optional skeleton on each frame and
    encodes them (libx264, yuv420p: plays in common players) into ``path``, which should be a
    temporary name (``OutputSet.reserve``, renamed once the run is complete): ``close()`` finishes
    the file, ``abort()`` removes a partial one."""

    def __init__(
        self,
        path: Path,
        info: VideoInfo,
        names: list[str],
        pcutoff: float,
        skeleton: list[tuple[str, str]] | None = None,
        target: Path | None = None,
        tracks: list[str] | None = None,
    ) -> None:
        """``target``: the name the file will have, for messages (default ``path``). ``tracks``: the
        names of N identities; ``write`` then takes each frame's (N, K, 2) points, draws identity
        n's points and skeleton in its own colour and its name above its points (Hershey font: ASCII only)."""
        import av

        self.path, self.pcutoff, self.target = path, pcutoff, target or path
        self.tracks = tracks
        self.colours = distinct_colours(len(names) if tracks is None else len(tracks))
        index = {n: i for i, n in enumerate(names)}
        self.edges = [(index[a], index[b]) for a, b in (skeleton or []) if a in index and b in index]
        # yuv420p needs even sides: odd ones get one black column/row
        self.width, self.height = info.width + info.width % 2, info.height + info.height % 2
        self.radius = max(2, round(min(info.width, info.height) / 120))
        self.font = max(0.3, min(info.width, info.height) / 600)  # cv2's font scale for track names
        self.closed = True  # nothing to abort until the file is open
        with self._writing():
            self.container = av.open(str(path), mode="w", format="mp4")
        rate = Fraction(info.fps).limit_denominator(100000) if info.fps > 0 else Fraction(30)
        self.stream = self.container.add_stream("libx264", rate=rate, options={"crf": "20", "preset": "veryfast"})
        self.stream.width, self.stream.height, self.stream.pix_fmt = self.width, self.height, "yuv420p"
        self.frames, self.closed = 0, False

    def write(self, image: np.ndarray | None, points: np.ndarray, likelihood: np.ndarray) -> None:
        """image (H, W, 3) uint8 RGB or None (a frame that failed to decode: black); points (K, 2) and
        likelihood (K,), or with ``tracks`` (N, K, 2) and (N, K) (NaN: an identity absent)."""
        import av

        canvas = np.zeros((self.height, self.width, 3), np.uint8)
        if image is not None:  # (a stream that changes size midway is cut or padded to the first size)
            h, w = min(self.height, image.shape[0]), min(self.width, image.shape[1])
            canvas[:h, :w] = image[:h, :w]
        if self.tracks is None:
            self._draw(canvas, points, likelihood, self.colours)
        else:
            for n, name in enumerate(self.tracks):
                shown = self._draw(canvas, points[n], likelihood[n], [self.colours[n]] * len(points[n]))
                if shown.any():
                    self._name(canvas, name, points[n][shown], self.colours[n])
        with self._writing():
            for packet in self.stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                self.container.mux(packet)
        self.frames += 1

    def _draw(
        self, canvas: np.ndarray, points: np.ndarray, likelihood: np.ndarray, colours: list[tuple[int, int, int]]
    ) -> np.ndarray:
        """points (K, 2), likelihood (K,), a colour per point -> which of the K points were drawn."""
        shown = np.isfinite(points).all(1) & (likelihood >= self.pcutoff)
        for a, b in self.edges:
            if shown[a] and shown[b]:
                pa, pb = (tuple(int(round(v)) for v in points[i]) for i in (a, b))
                cv2.line(canvas, pa, pb, (255, 255, 255) if self.tracks is None else colours[a], 1, cv2.LINE_AA)
        for k in np.flatnonzero(shown):
            centre = (int(round(points[k, 0])), int(round(points[k, 1])))
            cv2.circle(canvas, centre, self.radius, colours[k], -1, cv2.LINE_AA)
        return shown

    def _name(self, canvas: np.ndarray, name: str, points: np.ndarray, colour: tuple[int, int, int]) -> None:
        """``name`` above the top left of points (M, 2), kept inside the frame."""
        (w, h), _ = cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, self.font, 1)
        x = int(np.clip(points[:, 0].min(), 0, max(0, self.width - w)))
        y = int(np.clip(points[:, 1].min() - 2 * self.radius, h, self.height - 1))
        cv2.putText(canvas, name, (x, y), cv2.FONT_HERSHEY_SIMPLEX, self.font, colour, 1, cv2.LINE_AA)

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        with self._writing():
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            self.container.close()
        self.closed = True

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A failed write (disk full, no permission) is a DataError naming the video."""
        import av

        try:
            yield
        except (av.error.FFmpegError, OSError) as exc:
            raise DataError(f"{printable(self.target)}: could not be written ({exc})") from exc

    def abort(self) -> None:
        """Remove an unfinished file (no-op once closed)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.container.close()
        except Exception:  # noqa: BLE001, S110 - the file is being thrown away; its close may fail too
            pass
        finally:
            self.path.unlink(missing_ok=True)
