from seqattn.losses.hinge import HingeDistanceLoss, LossOutput, MaskedPointLoss, hinge, hinge_loss
from seqattn.losses.pointwise import L1Loss, MSELoss, WingLoss

__all__ = ["HingeDistanceLoss", "L1Loss", "LossOutput", "MSELoss", "MaskedPointLoss", "WingLoss", "hinge", "hinge_loss"]
