from seqattn.callbacks.early_stopping import EarlyStoppingReport
from seqattn.callbacks.history import MetricsHistory
from seqattn.callbacks.overlays import ErrorOverlays

__all__ = ["EarlyStoppingReport", "ErrorOverlays", "MetricsHistory"]
