"""seqattn.data.base: left/right keypoint pairs found from the keypoint names."""

import pytest

from seqattn.data import find_flip_pairs
from seqattn.data.synthetic.dataset import KEYPOINT_NAMES, MAX_KEYPOINTS, SyntheticSource
from seqattn.errors import ConfigError


def test_left_right_pairs_and_bad_config():
    pairs = find_flip_pairs(list(KEYPOINT_NAMES))
    names = [(KEYPOINT_NAMES[i], KEYPOINT_NAMES[j]) for i, j in pairs]
    assert ("left_ear", "right_ear") in names and len(pairs) == 3
    assert find_flip_pairs(["leftear", "RightEar", "paw1LH", "paw3RF"]) == [(0, 1)]
    with pytest.raises(ConfigError, match="num_keypoints"):
        SyntheticSource(num_keypoints=MAX_KEYPOINTS + 1)


FLY = ["head", "thorax", "abdomen", "wingL", "wingR", "forelegL4", "forelegR4", "midlegL1", "midlegR1", "eyeL", "eyeR"]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (FLY, [("wingL", "wingR"), ("forelegL4", "forelegR4"), ("midlegL1", "midlegR1"), ("eyeL", "eyeR")]),
        (
            ["l_eye", "r_eye", "eye_l", "eye_r", "Lhand", "Rhand"],
            [("l_eye", "r_eye"), ("eye_l", "eye_r"), ("Lhand", "Rhand")],
        ),
        (
            ["Left_Paw", "right_paw", "hindL", "hindR", "toe-l-2", "toe-r-2"],
            [("Left_Paw", "right_paw"), ("hindL", "hindR"), ("toe-l-2", "toe-r-2")],
        ),
        # must not pair: another number (paw1LH / paw4RH), letters inside a word, a marker not apart
        (["paw1LH", "paw4RH", "paw2LF", "paw3RF", "lower_lip", "rower_lip", "LF", "RF", "nose_L1", "nose_R2"], []),
        (["pelvis", "pervis", "wingL", "wingR2", "earL", "EarR"], [("earL", "EarR")]),  # case aside, exact names only
        # the word wins over letters: the R of Rear or the L of Leg is no side
        (
            ["leftRearPaw", "rightRearPaw", "RearLeftLeg", "RearRightLeg", "obsLow_bot"],
            [("leftRearPaw", "rightRearPaw"), ("RearLeftLeg", "RearRightLeg")],
        ),
        # a side named in words without its partner: no flips at all rather than half of them
        (["leftEar", "rightEar", "leftHindLeg"], []),
    ],
)
def test_left_right_pairs_from_sleap_and_deeplabcut_style_names(names, expected):
    assert [(names[i], names[j]) for i, j in find_flip_pairs(names)] == expected
