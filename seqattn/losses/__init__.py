from seqattn.losses.confidence import ConfidenceBCE
from seqattn.losses.criterion import KeypointCriterion
from seqattn.losses.heatmap import GaussianHeatmapKL
from seqattn.losses.hinge import HingeDistanceLoss, LossOutput, MaskedPointLoss, hinge, hinge_loss
from seqattn.losses.pointwise import L1Loss, MSELoss, WingLoss
from seqattn.losses.unlabelled import UnlabelledTerms

__all__ = [
    "ConfidenceBCE",
    "GaussianHeatmapKL",
    "HingeDistanceLoss",
    "KeypointCriterion",
    "L1Loss",
    "LossOutput",
    "MSELoss",
    "MaskedPointLoss",
    "UnlabelledTerms",
    "WingLoss",
    "hinge",
    "hinge_loss",
]
