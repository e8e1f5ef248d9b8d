from seqattn.callbacks.checkpoints import AtomicCheckpointIO, EpochCheckpoint
from seqattn.callbacks.early_stopping import EarlyStoppingReport
from seqattn.callbacks.history import MetricsHistory
from seqattn.callbacks.overlays import ErrorOverlays
from seqattn.callbacks.throughput import ThroughputMonitor

__all__ = [
    "AtomicCheckpointIO",
    "EarlyStoppingReport",
    "EpochCheckpoint",
    "ErrorOverlays",
    "MetricsHistory",
    "ThroughputMonitor",
]
