"""Predict keypoints for a folder of images: `python predict.py <file.ckpt> <image folder> [--overlays]`."""

import seqattn.predict

if __name__ == "__main__":
    seqattn.predict.main()
