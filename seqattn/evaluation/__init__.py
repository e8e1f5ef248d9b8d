"""What measures and draws errors: result files, the run report, pictures of predictions over images."""
