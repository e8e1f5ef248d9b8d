"""Pictures of keypoint errors on the ORIGINAL image: truth, prediction and a labelled yellow error line.

Colours are RGB (arrays are RGB throughout the package): truth green, prediction magenta, the
error segment yellow with its length in original pixels written as ``err=Npx``. Labels are white
on a black outline, so yellow only ever marks error segments.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from seqattn.data.codec import KeypointCodec
from seqattn.io.files import write_atomically

TRUTH_RGB = (0, 255, 0)
PRED_RGB = (255, 0, 255)
ERROR_RGB = (255, 255, 0)
TEXT_RGB = (255, 255, 255)
OUTLINE_RGB = (0, 0, 0)
LEGEND = "green: truth  magenta: prediction  yellow: error (original px)"

_SHIFT = 4  # cv2 fixed-point bits: draw at 1/16 pixel precision
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def error_label(error_px: float) -> str:
    """``err=Npx`` with N the error in original pixels, rounded."""
    return f"err={round(error_px)}px"


def _fixed(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * (1 << _SHIFT))), int(round(p[1] * (1 << _SHIFT)))


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 of a label, drawn-image pixels


def _text(
    img: np.ndarray,
    text: str,
    origin: tuple[int, int] | list[tuple[int, int]],
    font_scale: float,
    max_width: int | None = None,
    taken: list[Box] | None = None,
) -> Box | None:
    """White text on a black outline, moved inside the image if it would run off an edge.

    Text wider than ``max_width`` pixels loses its start (".." marks the cut): path-like names
    keep their most specific end. ``taken``: boxes of earlier labels; ``origin`` may then list
    places to try in order: the text goes to the first whose box overlaps none of them (its box is
    added) and is left out where every place is covered. Returns its box, None where left out.
    """
    while max_width is not None and len(text) > 3 and cv2.getTextSize(text, _FONT, font_scale, 1)[0][0] > max_width:
        text = ".." + text[3:]
    (w, h), base = cv2.getTextSize(text, _FONT, font_scale, 1)
    for ox, oy in origin if isinstance(origin, list) else [origin]:
        x = int(np.clip(ox, 1, max(1, img.shape[1] - w - 1)))
        y = int(np.clip(oy, h + 1, max(h + 1, img.shape[0] - base - 1)))
        box = (x, y - h, x + w, y + base)
        if taken is None or not any(_overlap(box, other) for other in taken):
            break
    else:
        return None
    if taken is not None:
        taken.append(box)
    cv2.putText(img, text, (x, y), _FONT, font_scale, OUTLINE_RGB, 3, cv2.LINE_AA)
    cv2.putText(img, text, (x, y), _FONT, font_scale, TEXT_RGB, 1, cv2.LINE_AA)
    return box


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def beside(point: np.ndarray, text_size: tuple[int, int], gap: float) -> list[tuple[int, int]]:
    """Text origins (bottom-left, cv2's) that put a ``text_size`` (w, h) label next to ``point``, in
    the order tried: up-right (where a lone label goes), right, left, above, below."""
    (x, y), (w, h) = point, text_size
    places = [(x + gap, y - gap), (x + gap, y + h / 2), (x - gap - w, y + h / 2), (x - w / 2, y - gap)]
    return [(int(px), int(py)) for px, py in [*places, (x - w / 2, y + gap + h)]]


def _resize(image: np.ndarray, size: int | None) -> tuple[np.ndarray, float]:
    """Scale so the longer side is ``size`` (None: keep); returns the image and the scale factor."""
    if size is None:
        return image.copy(), 1.0
    factor = size / max(image.shape[:2])
    new = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, new, interpolation=interp), factor


def draw_errors(
    image: np.ndarray, pred: np.ndarray, truth: np.ndarray | None = None, size: int | None = None
) -> np.ndarray:
    """Draw predictions (and truth, with error lines) on an original image.

    image: (H, W, 3) uint8 RGB original; pred, truth: (K, 2) original pixels, NaN where missing.
    size: longer side of the returned picture (labels stay legible on small images), None keeps
    the original size. Returns (h, w, 3) uint8 RGB; the input is not modified.
    """
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    img, factor = _resize(np.ascontiguousarray(image[:, :, :3], dtype=np.uint8), size)
    pred_d = KeypointCodec.rescale_px(pred, factor)
    truth_d = KeypointCodec.rescale_px(truth, factor) if truth is not None else np.full_like(pred_d, np.nan)
    side = max(img.shape[:2])
    thickness = max(1, round(side / 256))
    radius = max(2.0, side / 90)
    font_scale = max(0.35, side / 600)
    both = np.isfinite(pred_d).all(1) & np.isfinite(truth_d).all(1)

    for k in np.flatnonzero(both):
        cv2.line(img, _fixed(truth_d[k]), _fixed(pred_d[k]), ERROR_RGB, thickness, cv2.LINE_AA, _SHIFT)
    for k in np.flatnonzero(np.isfinite(truth_d).all(1)):
        cv2.circle(img, _fixed(truth_d[k]), round(radius * (1 << _SHIFT)), TRUTH_RGB, -1, cv2.LINE_AA, _SHIFT)
    for k in np.flatnonzero(np.isfinite(pred_d).all(1)):
        c, r = pred_d[k], radius
        for a, b in (((-r, -r), (r, r)), ((-r, r), (r, -r))):  # an x: tells prediction from truth in grey
            cv2.line(img, _fixed(c + a), _fixed(c + b), PRED_RGB, thickness, cv2.LINE_AA, _SHIFT)
    label_errors(img, (truth_d + pred_d) / 2, errors_px(pred, truth), font_scale, radius)
    return img


def errors_px(pred: np.ndarray, truth: np.ndarray | None) -> np.ndarray:
    """(K,) distance between prediction and truth in original pixels; NaN where either is missing."""
    if truth is None:
        return np.full(len(pred), np.nan)
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(truth, np.float64), axis=1)


def label_errors(
    img: np.ndarray, mids: np.ndarray, errors: np.ndarray, font_scale: float, gap: float
) -> dict[int, Box]:
    """Write ``err=Npx`` beside each error segment's middle ``mids`` (K, 2), drawn-image pixels,
    largest error first, each where no earlier label is (``beside``): a crowded picture (several
    animals, many keypoints) labels its largest errors and leaves the rest as bare segments rather
    than a heap of overlapping text. Returns {keypoint: box} of the labels drawn."""
    taken: list[Box] = []
    drawn = {}
    for k in sorted(np.flatnonzero(np.isfinite(errors) & np.isfinite(mids).all(1)), key=lambda k: -errors[k]):
        label = error_label(float(errors[k]))
        size = cv2.getTextSize(label, _FONT, font_scale, 1)[0]
        if (box := _text(img, label, beside(mids[k], size, gap), font_scale, taken=taken)) is not None:
            drawn[int(k)] = box
    return drawn


def make_grid(
    tiles: list[np.ndarray], columns: int = 4, titles: list[str] | None = None, header: str | None = None
) -> np.ndarray:
    """Tiles (h_i, w_i, 3) uint8 in a grid of ``columns``, each under its title, optional header line on top.

    Cells take the largest tile size; smaller tiles sit top-left on black. Returns (H, W, 3) uint8.
    """
    if not tiles:
        raise ValueError("make_grid needs at least one tile")
    titles = titles or [""] * len(tiles)
    cell_h = max(t.shape[0] for t in tiles)
    cell_w = max(t.shape[1] for t in tiles)
    font_scale = max(0.35, cell_w / 700)
    title_h = cv2.getTextSize("Ag", _FONT, font_scale, 1)[0][1] * 2 + 4
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    gap = 4
    top = title_h if header else 0
    grid = np.zeros((top + rows * (cell_h + title_h + gap), columns * (cell_w + gap), 3), np.uint8)
    if header:
        _text(grid, header, (gap, title_h - 4), font_scale)
    for i, (tile, title) in enumerate(zip(tiles, titles, strict=True)):
        y = top + (i // columns) * (cell_h + title_h + gap)
        x = (i % columns) * (cell_w + gap)
        if title:
            _text(grid, title, (x + 2, y + title_h - 4), font_scale, max_width=cell_w - 4)
        grid[y + title_h : y + title_h + tile.shape[0], x : x + tile.shape[1]] = tile
    return grid


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 RGB array as PNG, creating the folder; returns the path."""
    path = Path(path)
    ok, png = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]))  # RGB -> BGR for OpenCV
    if not ok:
        raise OSError(f"could not encode image {path}")
    # Written by Python, not cv2.imwrite: any file name the system allows, and whole or not at all.
    return write_atomically(path, lambda tmp: tmp.write_bytes(png.tobytes()))
