"""Image sets as the agent sees them: float32 (N, H, W, C) in [0, 1], paper white, ink dark.

Grey datasets store ink as bright values (MNIST: 255 = ink); `ink_to_canvas` maps them to the
canvas's convention (1 = white paper) in this one place. `resize` brings images to the canvas size
(MNIST's 28x28 to 64x64 in the paper).

`ImageSet` holds a whole set in memory and draws batches deterministically from (seed, counter), so
a resumed run draws the same batches as an uninterrupted one.
"""

import gzip
import os
import struct

import numpy as np
from PIL import Image

SAMPLE_DIR = os.path.join(os.path.dirname(__file__), "samples")
MNIST_SAMPLE = os.path.join(SAMPLE_DIR, "mnist_sample.npz")
MNIST_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
MNIST_LABEL_FILES = {"train": "train-labels-idx1-ubyte", "test": "t10k-labels-idx1-ubyte"}


class DataError(ValueError):
  """A dataset is missing or unreadable; the message says what to do."""


def read_idx(path):
  """An IDX file (optionally gzipped), the format of the original MNIST files, as a numpy array."""
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
      raise DataError(f"{path} is not an IDX file of unsigned bytes (magic {data[:4]!r}).")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
      raise DataError(f"{path} is truncated: the header says {shape}, it holds {body.size} bytes.")
    return body.reshape(shape)
  except (OSError, EOFError, struct.error) as e:
    raise DataError(f"Cannot read {path}: {e}. Re-download the original MNIST files.") from e


def _mnist_file(data_dir, split, files, what):
  if split not in files:
    raise DataError(f"MNIST has splits {sorted(files)}, not {split!r}.")
  name = files[split]
  for candidate in (name + ".gz", name):
    path = os.path.join(data_dir, candidate)
    if os.path.exists(path):
      return read_idx(path)
  raise DataError(f"No MNIST {split} {what} in {data_dir!r}: expected {name}.gz (or unzipped), "
                  "the original file from http://yann.lecun.com/exdb/mnist/.")


def mnist(data_dir, split="train"):
  """MNIST images (N, 28, 28) uint8, 255 = ink, from a directory of the original IDX files."""
  return _mnist_file(data_dir, split, MNIST_FILES, "images")


def mnist_labels(data_dir, split="train"):
  """MNIST labels (N,) uint8 from a directory of the original IDX files."""
  return _mnist_file(data_dir, split, MNIST_LABEL_FILES, "labels")


def mnist_sample(split="test"):
  """(images (N, 28, 28) uint8, labels (N,)) of the MNIST sample shipped with the package
  (CC BY-SA 3.0; see samples/README): "train" holds the first 10,000 train digits, "test" 1,000
  test digits."""
  with np.load(MNIST_SAMPLE) as f:
    if f"{split}_images" not in f.files:
      raise DataError(f"The shipped MNIST sample has splits train and test, not {split!r}.")
    return f[f"{split}_images"], f[f"{split}_labels"]


def ink_to_canvas(images):
  """uint8 images with bright ink (N, H, W) -> float32 (N, H, W, 1), white paper, dark ink."""
  return (1.0 - np.asarray(images, np.float32) / 255.0)[..., None]


def resize_matrix(in_size, out_size):
  """(out_size, in_size) weights of a bilinear (triangle-filter) resize, widened when shrinking
  so that it averages instead of aliasing, as Pillow's BILINEAR resize does."""
  scale = in_size / out_size
  support = max(scale, 1.0)
  centres = (np.arange(out_size) + 0.5) * scale
  distance = np.abs((np.arange(in_size) + 0.5)[None, :] - centres[:, None]) / support
  weights = np.maximum(0.0, 1.0 - distance)
  return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def resize(images, size):
  """(N, H, W, C) float images -> (N, size, size, C): two small matrix products per batch."""
  images = np.asarray(images, np.float32)
  if images.shape[1:3] == (size, size):
    return images
  rows = resize_matrix(images.shape[1], size)
  cols = resize_matrix(images.shape[2], size)
  planes = np.moveaxis(images, -1, 1)  # (N, C, H, W): batched matrix products
  out = np.matmul(np.matmul(rows, planes), cols.T)
  return np.clip(np.moveaxis(out, 1, -1), 0.0, 1.0)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def image_folder(data_dir, size, grayscale, limit=None):
  """Every image file under data_dir (sorted by path), centre-cropped to a square and resized:
  float32 (N, size, size, 1 or 3) in [0, 1]. Suits Omniglot's PNGs (black ink on white, as the
  canvas) and CelebA's aligned JPEGs."""
  if not data_dir or not os.path.isdir(data_dir):
    raise DataError(f"Image folder {data_dir!r} does not exist: pass the directory that holds "
                    "the images (searched recursively for " + ", ".join(IMAGE_SUFFIXES) + ").")
  paths = sorted(os.path.join(root, name) for root, _, names in os.walk(data_dir)
                 for name in names if name.lower().endswith(IMAGE_SUFFIXES))
  if not paths:
    raise DataError(f"No images in {data_dir!r} (looked for {', '.join(IMAGE_SUFFIXES)}).")
  paths = paths[:limit] if limit else paths
  out = np.empty((len(paths), size, size, 1 if grayscale else 3), np.float32)
  for i, path in enumerate(paths):
    out[i] = image_folder_image(path, size, grayscale)
  return out


def image_folder_image(path, size, grayscale):
  """One image file, centre-cropped to a square and resized: float32 (size, size, 1 or 3)."""
  try:
    with Image.open(path) as image:
      image = image.convert("L" if grayscale else "RGB")
  except OSError as e:
    raise DataError(f"Cannot read image {path}: {e}.") from e
  w, h = image.size
  side = min(w, h)
  image = image.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side,
                      (h - side) // 2 + side)).resize((size, size), Image.BILINEAR)
  pixels = np.asarray(image, np.float32) / 255.0
  return pixels[..., None] if grayscale else pixels


class SourceImages:
  """Batches of canvas-ready images drawn from a random-access source (e.g. a tfds data source
  from `spiral_jax.data.tfds_builders`): float32 (n, size, size, C), white paper.

  batch(n, counter) depends on (seed, counter) alone, so a resumed run reads the same batches.
  """

  def __init__(self, source, size, key="image", bright_ink=True, seed=0):
    self.source, self.size, self.key, self.bright_ink, self.seed = (
        source, size, key, bright_ink, seed)
    self._fast = _raw_tensor_reader(source, key)

  def _read(self, indices):
    """The `key` arrays of the examples at indices, stacked."""
    if self._fast is not None:
      return self._fast(indices)
    get = getattr(self.source, "__getitems__", None)
    examples = get(indices) if get else [self.source[i] for i in indices]
    return np.stack([np.asarray(e[self.key]) for e in examples])

  def __len__(self):
    return len(self.source)

  def batch(self, n, counter, stream=0):
    rng = np.random.default_rng((self.seed, stream, counter))
    index = rng.integers(0, len(self.source), n)
    order = np.argsort(index, kind="stable")  # reading in file order is faster
    wanted = index[order].tolist()
    raw = self._read(wanted)
    raw[order] = raw.copy()
    if self.bright_ink:
      return resize(ink_to_canvas(raw), self.size)
    raw = raw.astype(np.float32) / 255.0
    return resize(raw if raw.ndim == 4 else raw[..., None], self.size)


def _raw_tensor_reader(source, key):
  """A fast reader for a tfds array_record data source whose `key` feature is a bytes-encoded
  Tensor (as `spiral_jax.data.tfds_builders` writes them): it parses each record's tf.Example
  once with the C protobuf parser and views the bytes as the array, instead of tfds' general
  per-feature decoding (~4x faster). None when the source is anything else."""
  try:
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    from tensorflow_datasets.proto import tf_example_generated_pb2  # pylint: disable=import-outside-toplevel
    feature = source.dataset_info.features[key]
    raw_source = source.data_source
    if not (isinstance(feature, tfds.features.Tensor)
            # tfds has no public accessor for a Tensor's encoding (get_serialized_info needs
            # TensorFlow); without it the general path below is taken.
            and getattr(feature, "_encoding", None) == tfds.features.Encoding.BYTES):
      return None
    dtype, shape = np.dtype(feature.np_dtype), tuple(feature.shape)
  except (ImportError, AttributeError, KeyError, TypeError):
    return None
  parse = tf_example_generated_pb2.Example.FromString

  def read(indices):
    records = raw_source.__getitems__(indices)
    return np.stack([np.frombuffer(parse(r).features.feature[key].bytes_list.value[0],
                                   dtype).reshape(shape) for r in records])
  return read


class ImageSet:
  """An in-memory image set drawing deterministic batches: batch(n, counter) depends on
  (seed, counter) alone."""

  def __init__(self, images, seed=0):
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
      raise DataError(f"An image set needs (N, H, W, C) images; got shape {images.shape}.")
    self.images = images
    self.seed = seed

  def __len__(self):
    return len(self.images)

  @property
  def image_shape(self):
    return self.images.shape[1:]

  def batch(self, n, counter, stream=0):
    """n images drawn uniformly with replacement; `stream` separates independent uses."""
    rng = np.random.default_rng((self.seed, stream, counter))
    return self.images[rng.integers(0, len(self.images), n)]
