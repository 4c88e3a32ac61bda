"""tensorflow-datasets helpers for datasets built locally, shared by `spiral_jax.data` (MNIST,
Omniglot, CelebA) and `environments` (MuJoCo Scenes), which must not import each other.

Builders made with these write array_record files (read back with `builder.as_data_source`, no
TensorFlow), never look for published metadata, and store images as raw bytes (one C protobuf
parse per record, several times faster than tfds' default integer lists).
"""

import numpy as np

try:
  import tensorflow_datasets as tfds
except ImportError as e:  # pragma: no cover - the [data] extra is not installed
  raise ImportError("Building datasets needs tensorflow-datasets: "
                    "pip install 'spiral-jax[data]'.") from e


class ArrayRecordByDefault:
  """Mixin for builders of local data: they write array_record files (readable without
  TensorFlow) unless told otherwise, and never look for published metadata. A plain mixin, so
  tfds does not register it as a dataset."""

  def __init__(self, **kwargs):
    kwargs.setdefault("file_format", "array_record")
    super().__init__(**kwargs)

  def dataset_info_from_configs(self, **kwargs):
    info = super().dataset_info_from_configs(**kwargs)
    # Before its data is prepared, a builder asks for this dataset's metadata in tfds' bucket.
    # There is none for these datasets, and each asking leaves an empty temporary directory.
    info.initialize_from_bucket = lambda: None
    return info


def image_feature(shape):
  """A uint8 image stored as raw bytes (one parse per record; tfds' default int lists are slow)."""
  return tfds.features.Tensor(shape=shape, dtype=np.uint8, encoding=tfds.features.Encoding.BYTES)


def read_images(builder, split, limit=None):
  """The first `limit` (default all) "image"s of a prepared builder's split, stacked."""
  source = builder.as_data_source(split=split)
  count = len(source) if not limit else min(limit, len(source))
  return np.stack([e["image"] for e in source.__getitems__(list(range(count)))])
