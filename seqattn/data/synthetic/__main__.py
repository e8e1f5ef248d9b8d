"""``python -m seqattn.data.synthetic demo.mp4 [frames]``: the walking-creature demo video."""

from seqattn.data.synthetic.dataset import main

main()
