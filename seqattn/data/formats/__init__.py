"""Label formats read into raw samples: DeepLabCut, SLEAP, COCO keypoints and plain CSV."""
