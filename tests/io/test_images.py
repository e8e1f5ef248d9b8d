"""seqattn.io.images: images read whole (odd formats, data after their end) or refused in one
line naming the file (missing, truncated, too large to decode)."""

import os
import re
import struct
import time
import zlib

import cv2
import numpy as np
import pytest

from seqattn.data.formats.dlc import DLCSource
from seqattn.errors import DataError
from seqattn.io.images import read_image


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floating_point_tiff_is_scaled_to_bytes(tmp_path, dtype):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    cv2.imwrite(str(tmp_path / "unit.tif"), grey.astype(dtype) / 255)  # values in [0, 1]: x 255
    assert np.array_equal(read_image(tmp_path / "unit.tif")[:, :, 0], grey)
    cv2.imwrite(str(tmp_path / "range.tif"), grey.astype(dtype) * 10 - 300)  # any other range: min to max
    scaled = read_image(tmp_path / "range.tif")[:, :, 0]
    assert (
        scaled.min() == 0
        and scaled.max() == 255
        and np.abs(scaled - grey.astype(float) * 255 / grey.max()).max() <= 0.5
    )


def encoded(suffix: str) -> bytes:
    image = (np.random.default_rng(0).random((12, 16, 3)) * 255).astype(np.uint8)
    return cv2.imencode(suffix, image)[1].tobytes()


@pytest.mark.parametrize(
    "name, content",
    [
        ("after_iend.png", lambda: encoded(".png") + b"trailing bytes"),
        ("after_eoi.jpg", lambda: encoded(".jpg") + b"\x00\x00" + encoded(".jpg") + b"phone data"),
        ("jpeg_named.png", lambda: encoded(".jpg")),
        ("png_named.jpg", lambda: encoded(".png")),
    ],
)
def test_images_with_data_after_their_end_or_another_suffix_are_read(tmp_path, name, content):
    (tmp_path / name).write_bytes(content())
    assert read_image(tmp_path / name).shape == (12, 16, 3)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_images_are_still_refused(tmp_path, suffix):
    whole = encoded(suffix)
    for cut in (len(whole) // 2, len(whole) - 2):
        (tmp_path / f"cut{suffix}").write_bytes(whole[:cut])
        with pytest.raises(DataError, match=r"(truncated|unreadable).*cut\."):
            read_image(tmp_path / f"cut{suffix}")


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header declaring width x height grey pixels, with a tiny image data chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_image_declaring_a_huge_size_is_refused_before_decoding(project):
    root, samples = project
    bomb = root / samples[0][0]
    bomb.write_bytes(png_declaring(50000, 50000))
    start = time.perf_counter()
    for read in (lambda: read_image(bomb), lambda: DLCSource(str(root))):
        with pytest.raises(DataError, match=re.escape(str(bomb)) + r" declares 50000x50000 .*max_image_pixels"):
            read()
    assert time.perf_counter() - start < 2


def test_missing_image_file(project):
    root, _ = project
    os.remove(root / "labeled-data" / "vid1" / "img03.png")
    with pytest.raises(DataError, match=r"image file not found: .*img03\.png"):
        DLCSource(str(root))


def test_truncated_image(project):
    root, _ = project
    img = root / "labeled-data" / "vid1" / "img02.png"
    img.write_bytes(img.read_bytes()[:200])
    with pytest.raises(DataError, match=r"img02\.png"):
        DLCSource(str(root))
