"""Predict keypoints: `python predict.py <file.ckpt> <video | folder of videos | folder of images> [options]`."""

import seqattn.inference.predict

if __name__ == "__main__":
    seqattn.inference.predict.main()
