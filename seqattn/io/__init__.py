"""Files in and out, shared by training data and prediction: images, videos, pandas HDF tables read
without unpickling, and files written whole or not at all."""
