"""Reading images from disk: any size, grey or colour, PNG or JPEG, always (H, W, 3) uint8 RGB.

The size a file declares is checked before any pixel is decoded: a small file can declare a
huge image (a decompression bomb), so files above ``max_pixels`` are refused by name.
PNG and JPEG files (found by their content, whatever their suffix) must hold their end marker:
OpenCV decodes cut-off files silently. Bytes after the end marker (phones append data) are fine.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import cv2
import numpy as np

from seqattn.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
# Pillow's own decompression-bomb limit (about 13400 x 13400): larger than any camera frame.
MAX_IMAGE_PIXELS = 178_956_970
MAX_PIXELS_SETTING = "data.source.max_image_pixels"

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
# in a JPEG scan, FF is a marker unless followed by 00 (a stuffed byte), D0-D7 (restart) or FF (fill)
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# what Pillow's format checks and header readers raise on a file that is not theirs, or too short
_NO_HEADER = (SyntaxError, IndexError, TypeError, ValueError, EOFError, OSError, struct.error)


class UnreadableImage(DataError):
    """An image file that cannot be decoded; ``reason`` says why in a few words (no path)."""

    def __init__(self, message: str, path: Path, reason: str) -> None:
        super().__init__(message)
        self.path, self.reason = path, reason


def read_image(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode ``path`` to (H, W, 3) uint8 RGB; a missing, empty, unreadable, truncated or too large
    (more than ``max_pixels`` declared) file is an UnreadableImage (a DataError).

    16-bit images are scaled by their type's maximum; floating-point ones (TIFF) by 255 when
    their values lie in [0, 1], else from their minimum to their maximum (NaN becomes 0).
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableImage(f"image file not found: {path}", path, "file not found")
    check_pixels(path, max_pixels)
    raw = path.read_bytes()
    if not raw:
        raise UnreadableImage(f"image unreadable (empty file): {path}", path, "empty file")
    image = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        reason = "not an image, or truncated"
        raise UnreadableImage(f"image unreadable ({reason}): {path}", path, reason)
    if _truncated(raw):
        reason = "file ends before the image data does"
        raise UnreadableImage(f"image truncated ({reason}): {path}", path, f"truncated: {reason}")
    if image.ndim == 3 and image.shape[2] >= 3:
        image = image[:, :, 2::-1]  # BGR(A) -> RGB
    return to_rgb_uint8(image)


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Grey (H, W) or (H, W, 1), RGB or RGBA of any depth -> (H, W, 3) uint8 RGB (see ``read_image``)."""
    image = _to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def declared_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header, no pixel decoded; None when Pillow reads no header.

    Pillow's ``Image.open`` would refuse large sizes itself (its own limit); its format readers
    are called directly so that the size is known and the limit is ``max_pixels``'s alone."""
    from PIL import Image

    Image.init()
    try:
        with open(path, "rb") as fp:
            prefix = fp.read(16)
            for fmt in Image.ID:
                factory, accept = Image.OPEN[fmt]
                try:  # some checks read 4 bytes of the prefix whatever its length (an empty file)
                    if accept is not None and accept(prefix) is not True:
                        continue
                    fp.seek(0)
                    return factory(fp, str(path)).size
                except _NO_HEADER:
                    continue
    except OSError:  # missing or unreadable: reported when the image is read, with its path
        pass
    return None


def check_pixels(path: Path, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """An UnreadableImage when ``path`` declares more than ``max_pixels`` pixels (nothing is decoded)."""
    size = declared_size(path)
    if size is not None and size[0] * size[1] > max_pixels:
        w, h = size
        raise UnreadableImage(
            f"image {path} declares {w}x{h} = {w * h} pixels, above the limit of {max_pixels}"
            f" ({MAX_PIXELS_SETTING}: raise it to read such images)",
            path,
            f"declares {w}x{h} pixels, above the limit of {max_pixels}",
        )


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Any depth OpenCV decodes -> uint8 (see ``read_image``)."""
    if image.dtype == np.uint8:
        return image
    if np.issubdtype(image.dtype, np.integer):
        scaled = image / max(1, np.iinfo(image.dtype).max) * 255
    else:
        values = np.where(np.isfinite(image), image, np.nan).astype(np.float64)
        lo, hi = (np.nanmin(values), np.nanmax(values)) if np.isfinite(values).any() else (0.0, 0.0)
        if lo >= 0 and hi <= 1:
            lo, hi = 0.0, 1.0
        scaled = np.nan_to_num((values - lo) / max(hi - lo, 1e-12) * 255)
    return np.clip(scaled, 0, 255).round().astype(np.uint8)


def _truncated(raw: bytes) -> bool:
    """A PNG or JPEG (known by its first bytes) that ends before its end marker."""
    if raw.startswith(_PNG):
        return not _png_complete(raw)
    if raw.startswith(_JPEG):
        return not _jpeg_complete(raw)
    return False


def _png_complete(raw: bytes) -> bool:
    """Walk the chunks (length, type, data, CRC) from the signature: complete if IEND is reached."""
    pos = len(_PNG)
    while pos + 8 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[pos : pos + 8])
        if kind == b"IEND":
            return True
        pos += 12 + length
    return False


def _jpeg_complete(raw: bytes) -> bool:
    """Walk the marker segments from SOI, skipping each scan's entropy-coded data: complete if
    EOI (FF D9) is reached. Thumbnails inside APP segments are skipped with their segment."""
    pos, n = 2, len(raw)
    while pos + 2 <= n:
        if raw[pos] != 0xFF or raw[pos + 1] in (0x00, 0xFF):  # padding, or bytes between segments
            found = _JPEG_MARKER.search(raw, pos)
            if found is None:
                return False
            pos = found.start()
        marker = raw[pos + 1]
        if marker == 0xD9:
            return True
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # restart and TEM markers have no length
            pos += 2
            continue
        if pos + 4 > n:
            return False
        pos += 2 + int.from_bytes(raw[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next marker
            found = _JPEG_MARKER.search(raw, pos)
            if found is None:
                return False
            pos = found.start()
    return False
