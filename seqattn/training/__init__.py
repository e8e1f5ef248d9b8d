"""What runs Lightning: training, testing a checkpoint, defaults from the data, resume, DDP, sweeps, run records."""
