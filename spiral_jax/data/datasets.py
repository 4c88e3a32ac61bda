"""Named datasets at canvas size: `load(name, data_dir, split, size, ...)`.

The one entry point that knows every source: MNIST from its IDX files or the shipped sample
(`spiral_jax.data.images`), Omniglot and CelebA through their tensorflow-datasets builders
(`spiral_jax.data.tfds_builders`, imported only when asked for), any image folder, and
tensorflow-datasets catalogue sets.
"""

from spiral_jax.data import images


def load(name, data_dir=None, split="train", size=64, limit=None, grayscale=True):
  """A named image set at canvas size: float32 (N, size, size, C) in [0, 1], white paper.

  name: "mnist" (the original IDX files in data_dir), "mnist_sample" (shipped; no data_dir),
  "omniglot" / "celeba" (built once with tensorflow-datasets from the original files in data_dir,
  see `spiral_jax.data.tfds_builders`; splits background / evaluation, and train), or "folder"
  (every image file under data_dir; grey when `grayscale`), or "tfds:NAME" (a tensorflow-datasets
  catalogue dataset through tfds.load; needs TensorFlow; data_dir, if given, is its manual dir).
  """
  if name == "folder":
    return images.image_folder(data_dir, size, grayscale, limit)
  if name.startswith("tfds:"):
    from spiral_jax.data import tfds_builders  # pylint: disable=import-outside-toplevel
    return tfds_builders.load_public(name[5:], data_dir, split, size, grayscale, limit)
  if name in ("omniglot", "celeba"):
    from spiral_jax.data import tfds_builders  # pylint: disable=import-outside-toplevel
    return tfds_builders.load_images(name, data_dir, split, size, grayscale, limit)
  if name == "mnist_sample":
    raw = images.mnist_sample()
  elif name == "mnist":
    if not data_dir:
      raise images.DataError("The 'mnist' dataset needs a data directory holding the original "
                             "IDX files (train-images-idx3-ubyte.gz ...); or use "
                             "'mnist_sample', shipped with the package.")
    raw = images.mnist(data_dir, split)
  else:
    raise images.DataError(f"Unknown dataset {name!r}: known are 'mnist', 'mnist_sample', "
                           "'omniglot', 'celeba', 'folder' and 'tfds:NAME'.")
  if limit:
    raw = raw[:limit]
  return images.resize(images.ink_to_canvas(raw), size)
