"""Named datasets at canvas size: `load(name, data_dir, split, size, ...)`.

The one entry point that knows every source: MNIST from its IDX files or the shipped sample
(`spiral_jax.data.images`), Omniglot and CelebA through their tensorflow-datasets builders
(`spiral_jax.data.tfds_builders`, imported only when asked for), any image folder, and
tensorflow-datasets catalogue sets. `open_images` gives an `images.ImageSet` that draws batches
(large sets are read when drawn, not held in memory); `load` gives a whole set as one array.
`open_labelled` and `load_labelled` also give the labels where a dataset has them (MNIST).

Splits take tensorflow-datasets' slice notation: "train[:55000]" (the first 55,000), "train[55000:]"
(the rest), "test[:1000]". Tuning on "train[55000:]" while training on "train[:55000]" keeps the
test split for the final figures.
"""

import re

import numpy as np

from spiral_jax.data import images

_SLICE = re.compile(r"^(\w+)(?:\[(-?\d*):(-?\d*)\])?$")


def parse_split(split):
  """"train[:55000]" -> ("train", slice(None, 55000)); "test" -> ("test", slice(None))."""
  match = _SLICE.match(str(split).strip())
  if not match:
    raise images.DataError(f"Cannot read split {split!r}: write a split name, optionally sliced "
                           "as in tensorflow-datasets, e.g. 'train', 'train[:55000]', "
                           "'train[55000:]'.")
  name, start, stop = match.groups()
  return name, slice(int(start) if start else None, int(stop) if stop else None)


def reads_data_dir(name):
  """Whether dataset `name` is read from a data directory the user gives (see `open_images`),
  rather than shipped with the package."""
  return name in ("mnist", "omniglot", "celeba", "folder") or name.startswith("tfds:")


def load(name, data_dir=None, split="train", size=64, limit=None, grayscale=True):
  """A named image set at canvas size, whole in memory: float32 (N, size, size, C) in [0, 1],
  white paper (see `open_images` for the names). For large sets use `open_images`."""
  if name in ("mnist", "mnist_sample"):  # exact floats, not the uint8 that open_images keeps
    return load_labelled(name, data_dir, split, size, limit, grayscale)[0]
  image_set = open_images(name, data_dir, split, size, limit, grayscale)
  return image_set.take(np.arange(len(image_set)))


def open_images(name, data_dir=None, split="train", size=64, limit=None, grayscale=True):
  """A named image set at canvas size as an `images.ImageSet` (batches drawn from a seed).

  name: "mnist" (the original IDX files in data_dir), "mnist_sample" (shipped; no data_dir;
  splits train, 10,000 digits, and test, 1,000) and "omniglot_sample" (shipped; split test: the
  `omniglot` agent's 1,900 held-out drawings): held in memory as uint8. "omniglot" / "celeba"
  (built once with tensorflow-datasets from the original files in data_dir, see
  `spiral_jax.data.tfds_builders`; splits background / evaluation, and train) and "folder" (every
  image file under data_dir; grey when `grayscale`): read when drawn, so that memory stays bounded
  whatever their size. "tfds:NAME" (a tensorflow-datasets catalogue dataset through tfds.load;
  needs TensorFlow; data_dir, if given, is its manual dir): in memory.
  """
  if name in ("mnist", "mnist_sample"):
    return open_labelled(name, data_dir, split, size, limit, grayscale)[0]
  if name == "omniglot_sample":
    base, part = parse_split(split)
    raw = images.omniglot_sample(base)[part][:limit or None]
    if not len(raw):
      raise images.DataError(f"Split {split!r} of omniglot_sample holds no images.")
    canvas = images.raw_to_canvas(raw, size, grayscale)
    return images.ArrayImages(np.round(canvas * 255.0).astype(np.uint8))
  if name == "folder":
    return images.FolderImages(data_dir, size, grayscale, limit)
  if name.startswith("tfds:"):
    from spiral_jax.data import tfds_builders  # pylint: disable=import-outside-toplevel
    return images.ArrayImages(
        tfds_builders.load_public(name[5:], data_dir, split, size, grayscale, limit))
  if name in ("omniglot", "celeba"):
    from spiral_jax.data import tfds_builders  # pylint: disable=import-outside-toplevel
    return tfds_builders.open_images(name, data_dir, split, size, grayscale, limit)
  raise images.DataError(f"Unknown dataset {name!r}: known are 'mnist', 'mnist_sample', "
                         "'omniglot', 'omniglot_sample', 'celeba', 'folder' and 'tfds:NAME'.")


def load_labelled(name, data_dir=None, split="train", size=64, limit=None, grayscale=True):
  """(images as `load` gives them, labels (N,) int or None where the dataset has none)."""
  if name not in ("mnist", "mnist_sample"):
    return load(name, data_dir, split, size, limit, grayscale), None
  raw, labels = _mnist(name, data_dir, split, limit)
  canvas = images.resize(images.ink_to_canvas(raw), size)
  return (canvas if grayscale else np.repeat(canvas, 3, axis=-1)), labels


def open_labelled(name, data_dir=None, split="train", size=64, limit=None, grayscale=True):
  """(the `open_images` ImageSet, labels (N,) int or None where the dataset has none)."""
  if name not in ("mnist", "mnist_sample"):
    return open_images(name, data_dir, split, size, limit, grayscale), None
  raw, labels = _mnist(name, data_dir, split, limit)
  # Resized in chunks straight to uint8: the float32 set at 64x64 would take 1 GB for MNIST.
  canvas = np.empty((len(raw), size, size, 1 if grayscale else 3), np.uint8)
  for start in range(0, len(raw), 4096):
    chunk = images.resize(images.ink_to_canvas(raw[start:start + 4096]), size)
    canvas[start:start + 4096] = np.round(chunk * 255.0)  # broadcast to colour if asked
  return images.ArrayImages(canvas), labels


def _mnist(name, data_dir, split, limit):
  """(raw uint8 digits (N, 28, 28), labels (N,) int32) of a split of MNIST or the sample."""
  base, part = parse_split(split)
  if name == "mnist_sample":
    raw, labels = images.mnist_sample(base)
  else:
    if not data_dir:
      raise images.DataError("The 'mnist' dataset needs a data directory holding the original "
                             "IDX files (train-images-idx3-ubyte.gz ...); or use "
                             "'mnist_sample', shipped with the package.")
    raw, labels = images.mnist(data_dir, base), images.mnist_labels(data_dir, base)
  raw, labels = raw[part], labels[part]
  if limit:
    raw, labels = raw[:limit], labels[:limit]
  if not len(raw):
    raise images.DataError(f"Split {split!r} of {name} holds no images.")
  return raw, np.asarray(labels, np.int32)
