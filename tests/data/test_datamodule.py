import numpy as np
import pytest
import torch

from seqattn.data import Geometry, KeypointDataModule
from seqattn.data.codec import image_to_tensor
from seqattn.data.datamodule import model_inputs
from seqattn.data.synthetic.dataset import SyntheticSource


@pytest.mark.parametrize("cache", [True, False])
def test_batches_decode_back_to_the_raw_labels(cache):
    source = SyntheticSource(num_train=10, num_val=6, num_test=6, width=70, height=45, num_keypoints=10)
    dm = KeypointDataModule(source, Geometry(48), batch_size=4, eval_batch_size=4, cache=cache, num_workers=0)
    dm.setup("fit")
    batch = next(iter(dm.val_dataloader()))
    assert batch["image"].shape == (4, 3, 48, 48)
    assert batch["keypoints"].shape == (4, 10, 2) and batch["visible"].shape == (4, 10)
    assert batch["frame"].shape == (4, 6)
    # the loaders send uint8; model_inputs gives each image exactly as one image is prepared for prediction
    assert batch["image"].dtype == torch.uint8
    first = source.splits()["val"][int(batch["index"][0])].image
    inputs = model_inputs({"labelled": batch})["labelled"]  # nested as the training batches with video frames
    assert torch.equal(inputs["image"][0], image_to_tensor(dm.codec.letterbox(first)[0]))
    assert inputs["keypoints"] is batch["keypoints"]
    back = dm.codec.decode(batch["keypoints"].double(), batch["frame"].double())
    for row, index in enumerate(batch["index"].tolist()):
        raw = source.splits()["val"][index].keypoints
        vis = batch["visible"][row].numpy()
        assert np.array_equal(vis, np.isfinite(raw).all(1))
        assert np.abs(back[row].numpy()[vis] - raw[vis]).max() < 1e-3


def test_train_loader_shuffles_and_drops_the_ragged_batch():
    dm = KeypointDataModule(
        SyntheticSource(num_train=10, num_val=4, num_test=4), Geometry(32), batch_size=4, num_workers=0, epoch_size=0
    )
    dm.setup("fit")
    sizes = [len(b["index"]) for b in dm.train_dataloader()]
    assert sizes == [4, 4]
    assert torch.is_tensor(next(iter(dm.train_dataloader()))["visible"])


def test_small_training_sets_are_repeated_to_the_epoch_size():
    dm = KeypointDataModule(
        SyntheticSource(num_train=10, num_val=6, num_test=4), Geometry(32), batch_size=4, epoch_size=25, num_workers=0
    )
    dm.setup("fit")
    indices = torch.cat([b["index"] for b in dm.train_dataloader()])
    assert len(indices) == 28  # 3 passes of 10, ragged last batch dropped
    assert set(indices.tolist()) == set(range(10))
    assert len(dm.val_dataloader().dataset) == 6  # evaluation splits are never repeated
