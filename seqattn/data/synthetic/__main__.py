"""``python -m seqattn.data.synthetic demo.mp4 [frames] [--animals N]``: the walking-creature demo video."""

from seqattn.data.synthetic.walk import main

main()
