"""Reading images from disk: any size, grey or colour, PNG or JPEG, always (H, W, 3) uint8 RGB."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from seqattn.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` to (H, W, 3) uint8 RGB; a missing, unreadable or truncated file is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image file not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.size == 0:
        raise DataError(f"image unreadable (not an image, or truncated): {path}")
    if _truncated(path, data):
        raise DataError(f"image truncated (file ends before the image data does): {path}")
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF
        image = (image / max(1, np.iinfo(image.dtype).max) * 255).round().astype(np.uint8)
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1])  # BGR -> RGB


def _truncated(path: Path, data: np.ndarray) -> bool:
    """OpenCV decodes cut-off PNG/JPEG files silently (grey rows); check their end markers."""
    suffix = path.suffix.lower()
    if suffix == ".png":
        return data[-12:].tobytes()[4:8] != b"IEND"
    if suffix in (".jpg", ".jpeg"):
        tail = data[-64:].tobytes().rstrip(b"\x00")
        return not tail.endswith(b"\xff\xd9")
    return False
