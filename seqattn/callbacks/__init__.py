from seqattn.callbacks.early_stopping import EarlyStoppingReport

__all__ = ["EarlyStoppingReport"]
