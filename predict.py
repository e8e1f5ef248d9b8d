"""Predict keypoints: `python predict.py <file.ckpt> <video | folder of videos | folder of images> [options]`."""

import seqattn.inference.cli

if __name__ == "__main__":
    seqattn.inference.cli.main()
