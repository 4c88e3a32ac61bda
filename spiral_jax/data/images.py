"""Image sets as the agent sees them: float32 (N, H, W, C) in [0, 1], paper white, ink dark.

Grey datasets store ink as bright values (MNIST: 255 = ink); `ink_to_canvas` maps them to the
canvas's convention (1 = white paper) in this one place. `resize` brings images to the canvas size
(MNIST's 28x28 to 64x64 in the paper).

An `ImageSet` draws batches deterministically from (seed, counter), so a resumed run draws the same
batches as an uninterrupted one; it holds the images in memory as uint8 (`ArrayImages`) or reads
them when drawn (`SourceImages`, `FolderImages`), so that memory stays bounded for large sets.
"""

import copy
import gzip
import os
import struct

import numpy as np
from PIL import Image

SAMPLE_DIR = os.path.join(os.path.dirname(__file__), "samples")
MNIST_SAMPLE = os.path.join(SAMPLE_DIR, "mnist_sample.npz")
OMNIGLOT_SAMPLE = os.path.join(SAMPLE_DIR, "omniglot_sample.npz")
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


def omniglot_sample(split="test"):
  """Drawings (N, 105, 105) uint8 (255 = ink) of the Omniglot sample shipped with the package (MIT;
  see samples/README): "test" holds the `omniglot` agent's 1,900 held-out drawings."""
  with np.load(OMNIGLOT_SAMPLE) as f:
    if f"{split}_images" not in f.files:
      raise DataError(f"The shipped Omniglot sample has the split test, not {split!r}.")
    return f[f"{split}_images"]


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


def image_paths(data_dir):
  """Every image file under data_dir, sorted; a DataError naming the problem when there is none."""
  if not data_dir or not os.path.isdir(data_dir):
    raise DataError(f"Image folder {data_dir!r} does not exist: pass the directory that holds "
                    "the images (searched recursively for " + ", ".join(IMAGE_SUFFIXES) + ").")
  paths = sorted(os.path.join(root, name) for root, _, names in os.walk(data_dir)
                 for name in names if name.lower().endswith(IMAGE_SUFFIXES))
  if not paths:
    raise DataError(f"No images in {data_dir!r} (looked for {', '.join(IMAGE_SUFFIXES)}).")
  return paths


def image_folder(data_dir, size, grayscale, limit=None):
  """Every image file under data_dir (sorted by path), centre-cropped to a square and resized:
  float32 (N, size, size, 1 or 3) in [0, 1]. Suits Omniglot's PNGs (black ink on white, as the
  canvas) and CelebA's aligned JPEGs."""
  folder = FolderImages(data_dir, size, grayscale, limit)
  return folder.take(np.arange(len(folder)))


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


class ImageSet:
  """Canvas images drawn in deterministic batches: float32 (n, H, W, C) in [0, 1], white paper.

  `batch(n, counter, stream)` depends on (seed, stream, counter) alone, so a resumed run draws the
  same batches as an uninterrupted one. A subclass says how many images there are and how to read
  those at given indices (`take`): held in memory (`ArrayImages`), read from a random-access
  source such as a tfds data source (`SourceImages`), or from image files (`FolderImages`); the
  last two hold no images, so memory stays bounded whatever the dataset's size.
  """

  seed = 0

  def __len__(self):
    raise NotImplementedError

  @property
  def image_shape(self):
    raise NotImplementedError

  def take(self, indices):
    """The images at `indices` (any order, repeats allowed)."""
    raise NotImplementedError

  def batch(self, n, counter, stream=0):
    """n images drawn uniformly with replacement; `stream` separates independent uses."""
    rng = np.random.default_rng((self.seed, stream, counter))
    return self.take(rng.integers(0, len(self), n))

  def first(self, n):
    """The first n images (cycling when there are fewer)."""
    return self.take(np.arange(n) % len(self))

  def reseeded(self, seed):
    """The same images, drawing batches from `seed`."""
    other = copy.copy(self)
    other.seed = seed
    return other


def as_image_set(images, seed=None):
  """An ImageSet from an ImageSet or (N, H, W, C) images in [0, 1] (float or uint8), with `seed`
  for its batches if given."""
  image_set = images if isinstance(images, ImageSet) else ArrayImages(images)
  return image_set if seed is None else image_set.reseeded(seed)


class ArrayImages(ImageSet):
  """Images held in memory: uint8 (0-255, a quarter of float32's size) or floats in [0, 1],
  kept as given."""

  def __init__(self, images, seed=0):
    images = np.asarray(images)
    if images.ndim != 4:
      raise DataError(f"An image set needs (N, H, W, C) images; got shape {images.shape}.")
    if not len(images):
      raise DataError("An image set needs at least one image; this one is empty.")
    self.images, self.seed = images, seed

  def __len__(self):
    return len(self.images)

  @property
  def image_shape(self):
    return self.images.shape[1:]

  def take(self, indices):
    picked = self.images[np.asarray(indices)]
    if picked.dtype == np.uint8:
      return picked.astype(np.float32) / 255.0
    return picked.astype(np.float32)


def raw_to_canvas(raw, size, grayscale):
  """Stored uint8 images -> canvas images (float32 (N, size, size, 1 or 3), white paper). Grey
  ones, (N, H, W) or (N, H, W, 1), store ink bright (MNIST, Omniglot as built here); colour ones
  are pictures. Resized, then converted to grey or colour as asked."""
  raw = np.asarray(raw)
  if raw.ndim == 3 or raw.shape[-1] == 1:
    canvas = ink_to_canvas(raw.reshape(raw.shape[:3]))
  else:
    canvas = raw.astype(np.float32) / 255.0
  canvas = resize(canvas, size)
  if grayscale and canvas.shape[-1] == 3:
    canvas = canvas @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]
  elif not grayscale and canvas.shape[-1] == 1:
    canvas = np.repeat(canvas, 3, axis=-1)
  return canvas


class SourceImages(ImageSet):
  """Images read on demand from a random-access source of examples (a tfds data source from
  `spiral_jax.data.tfds_builders`, or any sequence of dicts), decoded and resized per batch:
  memory holds one batch, whatever the source's size.

  key: the examples' image feature (uint8; grey ones store ink bright, see `raw_to_canvas`).
  grayscale: the canvas's mode (None: as stored).
  """

  def __init__(self, source, size, key="image", grayscale=None, seed=0):
    if not len(source):
      raise DataError("The image source holds no examples.")
    self.source, self.size, self.key, self.grayscale, self.seed = (
        source, size, key, grayscale, seed)
    self._fast = _raw_tensor_reader(source, key)
    self._shape = None

  def _read(self, indices):
    """The `key` arrays of the examples at indices, stacked."""
    if self._fast is not None:
      return self._fast(indices)
    get = getattr(self.source, "__getitems__", None)
    examples = get(indices) if get else [self.source[i] for i in indices]
    return np.stack([np.asarray(e[self.key]) for e in examples])

  def __len__(self):
    return len(self.source)

  @property
  def image_shape(self):
    if self._shape is None:
      self._shape = self.take([0]).shape[1:]
    return self._shape

  def take(self, indices):
    index = np.asarray(indices, np.int64)
    order = np.argsort(index, kind="stable")  # reading in file order is faster
    raw = self._read(index[order].tolist())
    raw[order] = raw.copy()
    grayscale = self.grayscale
    if grayscale is None:
      grayscale = raw.ndim == 3 or raw.shape[-1] == 1
    return raw_to_canvas(raw, self.size, grayscale)


class FolderImages(ImageSet):
  """Every image file under a directory (sorted by path), read when drawn: centre-cropped to a
  square and resized, as `image_folder` does. Only the paths are held in memory."""

  def __init__(self, data_dir, size, grayscale, limit=None, seed=0):
    paths = image_paths(data_dir)
    self.paths = paths[:limit] if limit else paths
    self.size, self.grayscale, self.seed = size, grayscale, seed

  def __len__(self):
    return len(self.paths)

  @property
  def image_shape(self):
    return (self.size, self.size, 1 if self.grayscale else 3)

  def take(self, indices):
    out = np.empty((len(indices),) + self.image_shape, np.float32)
    for i, index in enumerate(np.asarray(indices)):
      out[i] = image_folder_image(self.paths[index], self.size, self.grayscale)
    return out


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
