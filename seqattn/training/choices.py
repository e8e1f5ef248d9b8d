"""The rules that turn the data's statistics into settings (``resolve_auto`` applies them).

Each ``choose_*`` returns (value, reason); the reason goes to the run header and run_info.json.
The measurements behind the constants are in docs/benchmarks.md.
"""

from __future__ import annotations

import math

import torch

from seqattn.data.augment import SMALL_ROTATION
from seqattn.errors import ConfigError
from seqattn.hardware import native_bf16
from seqattn.training.data_stats import DataStats

BASE_INPUT = 160  # px: the default step-0 input side
MIN_OBJECT_PX = 24  # median labelled span wanted at the network input
LARGEST_INPUT, SMALLEST_INPUT = 256, 64


def _round32(x: float) -> int:
    return int(math.ceil(x / 32) * 32)


def choose_input_size(stats: DataStats) -> tuple[int, str]:
    """The step-0 input side: BASE_INPUT, larger for small objects, never past the images' long
    side (for labels with several animals in a frame: the crop's)."""
    long_side, span = stats.long_side_px, stats.object_span_px
    size, why = BASE_INPUT, f"the default {BASE_INPUT} px"
    at_base = span * BASE_INPUT / long_side if math.isfinite(span) else math.inf
    if at_base < MIN_OBJECT_PX:
        size = min(LARGEST_INPUT, _round32(MIN_OBJECT_PX * long_side / span))
        why = (
            f"objects span {span:.0f} of {long_side:.0f} px (median), only {at_base:.0f} px at {BASE_INPUT}: "
            f"enlarged for >= {MIN_OBJECT_PX} px (at most {LARGEST_INPUT})"
        )
    native = max(SMALLEST_INPUT, _round32(long_side))
    if size > native:
        size, why = native, f"the images' long side is {long_side:.0f} px: no upsampling past it"
    return size, why


DETECTOR_CROP_PX = 80  # the detector sees frames scaled so that an animal's crop spans this many pixels


def choose_detector_size(frame_long_side: float, crop_px: int) -> tuple[int, str]:
    """The detector's letterbox side: the whole frame scaled so that an animal's crop spans
    DETECTOR_CROP_PX pixels, from 64 to 512, never past the frame's own long side."""
    size = min(512, max(64, _round32(frame_long_side * DETECTOR_CROP_PX / crop_px)))
    why = f"frames of {frame_long_side:.0f} px with {crop_px} px crops: a crop spans about {DETECTOR_CROP_PX} px"
    native = max(64, _round32(frame_long_side))
    if size > native:
        size, why = native, f"the frames' long side is {frame_long_side:.0f} px: no upsampling past it"
    return size, why


HIRES_FACTOR = 2  # the refinement's letterbox: this many times the step-0 input side


def choose_hires_factor(long_side: float, input_size: int, refines: bool) -> tuple[int, str]:
    """How many times the step-0 input side the letterbox the refinement glimpses into is:
    HIRES_FACTOR, or 1 when nothing glimpses or when that letterbox would upsample the images (for
    labels with several animals in a frame: the crops) past their own long side, rounded up to 32:
    no detail to gain, at a lower training rate (docs/ablations.md, the letterbox)."""
    if not refines:
        return 1, "no refinement steps: nothing glimpses"
    side, native = HIRES_FACTOR * input_size, _round32(long_side)
    if side > native:
        return 1, (
            f"the images' long side is {long_side:.0f} px: a {HIRES_FACTOR} x {input_size} = {side} px letterbox"
            " would upsample them (no detail to gain); the glimpses look into the step-0 input"
        )
    return HIRES_FACTOR, f"a {side} px letterbox for the glimpses, within the images' {long_side:.0f} px long side"


def letterbox_resolution(long_side: float, input_size: int, hires_factor: int) -> str:
    """Original pixels per step-0 input pixel and per pixel of the letterbox the glimpses look into."""
    side = hires_factor * input_size
    return (
        f"{long_side / input_size:.1f} original px per input px; {long_side / side:.2f} per letterbox px"
        f" ({hires_factor} x {input_size} = {side} px)"
    )


def glimpse_resolution(long_side: float, model: dict) -> str:
    """Original pixels per sample of the finest glimpse (the last step's), as text; '' without steps."""
    steps = int(model.get("steps", 0) or 0)
    if steps <= 0 or "glimpse_extent" not in model:
        return ""
    extent = float(model["glimpse_extent"]) * float(model.get("glimpse_shrink", 0.5)) ** (steps - 1)
    samples = int(model["glimpse_size"]) // (1 if model.get("glimpse_source") == "pixels" else 2)
    return f"{extent * long_side / samples:.2f} original px per sample of the last glimpse"


SPREAD_HEADINGS = 0.8  # pose alignment below this: any heading (uniform headings give 2 / pi = 0.64)
FULL_ROTATION = 180.0  # degrees; otherwise the augmentation's own small default (SMALL_ROTATION)
# An animal whose centre ranges over ARENA_SPREAD of the image's height (10th to 90th percentile,
# DataStats.position_spread) and over ARENA_SPANS of its own size (travel_spans) walks on a floor
# seen from above. In a side view the height is gravity's axis: an animal on a floor keeps its
# height in the image (a runway spreads along the width only, a treadmill or a head-fixed rig not
# at all); faces and crops fill much of the image and stay near the middle (synthetic crops around
# the creature: 0.36 of the height but 0.5 of its size). Measured: openfield (a mouse from above,
# along one wall) 0.72 of the height, 3.1 of its size (0.12 of the width); mirror-mouse (a fixed rig
# with a mirror) 0.07, 0.08. The width is reported, not used: a side view's floor runs along it, so
# an animal moving only left-right reads as a side view (a top-view clip of that kind keeps the
# pose-alignment rule: set data.augment.rotate=180); a camera turned on its side breaks the premise.
ARENA_SPREAD = 0.4
ARENA_SPANS = 2.0


def choose_rotation(stats: DataStats) -> tuple[float, str]:
    """Several animals in a frame, or one moving over the height of the frame (a floor seen from
    above): any heading, whatever headings the training frames happen to show. Else by the pose
    alignment: any heading when the labelled headings vary, else small tilts."""
    if stats.layout is not None:
        return FULL_ROTATION, (
            "several animals in a frame: crops around animals filmed from above or moving freely, which"
            " turn whichever way the training frames show them: any heading"
        )
    spread_x, spread_y = stats.position_spread
    ranges = f"the animal's centre ranges over {spread_y:.0%} of the image height, {stats.travel_spans:.1f}x its size"
    if spread_y >= ARENA_SPREAD and stats.travel_spans >= ARENA_SPANS:  # False when NaN
        return FULL_ROTATION, (
            f"{ranges} (10th-90th percentile, >= {ARENA_SPREAD:.0%} and {ARENA_SPANS:g}x; {spread_x:.0%} of"
            " the width): an arena seen from above, where it turns whichever way the training frames"
            " show it: any heading"
        )
    stays = f"{ranges} (< {ARENA_SPREAD:.0%} or {ARENA_SPANS:g}x), " if math.isfinite(spread_y) else ""
    a = stats.pose_alignment
    if math.isfinite(a) and a < SPREAD_HEADINGS:
        return FULL_ROTATION, f"headings vary (pose alignment {a:.2f} < {SPREAD_HEADINGS}): any rotation is a real pose"
    if math.isfinite(a):
        return SMALL_ROTATION, f"{stays}pose alignment {a:.2f} >= {SPREAD_HEADINGS}: a fixed view, small tilts only"
    return SMALL_ROTATION, f"{stays}too few labels to measure headings: small tilts only"


GLIMPSE_SIZE = {"pixels": 16, "features": 8}
REFINEMENT_STEPS = 3
REFINE_UP_TO = 32  # keypoints (docs/benchmarks.md: refinement against step 0 alone by K)


def choose_steps(num_keypoints: int, up_to: int = REFINE_UP_TO) -> tuple[int, str]:
    if num_keypoints <= up_to:
        return REFINEMENT_STEPS, f"K = {num_keypoints} <= {up_to}: {REFINEMENT_STEPS} glimpse-and-correct steps"
    return 0, (
        f"K = {num_keypoints} > {up_to}: step 0 alone; with this many keypoints the refinement costs more"
        " training time than it gains (docs/benchmarks.md)"
    )


PIXEL_GLIMPSES_UP_TO = 8  # keypoints (docs/benchmarks.md: glimpses from pixels or from a shared map)


def choose_glimpse_source(num_keypoints: int, up_to: int = PIXEL_GLIMPSES_UP_TO) -> tuple[str, str]:
    if num_keypoints <= up_to:
        return "pixels", f"K = {num_keypoints} <= {up_to}: a pixel glimpse per keypoint"
    return "features", f"K = {num_keypoints} > {up_to}: glimpses sampled from one shared map (cost ~ independent of K)"


WINDOW_IMAGES = 30  # validation images the stopping rule averages over, at least
LONGEST_WINDOW = 5  # epochs


def choose_stopping_window(num_val: int) -> tuple[int, str]:
    """Epochs whose validation values the stopping rule averages: enough that they cover
    WINDOW_IMAGES validation images (a split of 6 images moves by a pixel between epochs on noise
    alone), at most LONGEST_WINDOW."""
    window = max(1, min(LONGEST_WINDOW, math.ceil(WINDOW_IMAGES / max(1, num_val))))
    if window == 1:
        return 1, f"{num_val} validation images: each epoch's value alone"
    return window, f"{num_val} validation images: the mean of the last {window} epochs (>= {WINDOW_IMAGES} images)"


def choose_test_time_flip(setting: bool | str, trained_with_flips: bool) -> tuple[bool, str]:
    """``test_time_flip``: auto -> on when training flips (left/right pairs known, a flip probability)."""
    if setting is True and not trained_with_flips:
        raise ConfigError(
            "test_time_flip=true needs a model trained with flips: data.augment.hflip > 0 and left/right"
            " pairs known (data.source.flip_pairs, [] if no keypoint has a side)"
        )
    if setting != "auto":
        return bool(setting), "set explicitly"
    if trained_with_flips:
        return True, "trained with flips: each prediction averaged with the mirrored image's (two passes)"
    return False, "no flips in training: one pass"


def training_device(accelerator: str) -> torch.device:
    """The device Lightning's ``trainer.accelerator`` lands on (auto: a CUDA GPU, then Apple's, then the CPU)."""
    accelerator = str(accelerator).lower()
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    if accelerator in ("auto", "gpu", "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def choose_training_precision(accelerator: str) -> tuple[str, str]:
    """``trainer.precision: auto``: bf16 autocast (``bf16-mixed``) where the chip computes bf16
    natively (seqattn.hardware), else ``32-true``. The refinement steps, the soft-argmax, the
    coordinates and the losses stay in float32 either way (seqattn.models.sequential)."""
    native, why = native_bf16(training_device(accelerator))
    return ("bf16-mixed" if native else "32-true"), why + ("" if native else ": float32")
