from seqattn.losses.hinge import HingeDistanceLoss, LossOutput, hinge, hinge_loss

__all__ = ["HingeDistanceLoss", "LossOutput", "hinge", "hinge_loss"]
