"""tensorflow-datasets builders for SPIRAL's data, in array_record format (no TensorFlow needed).

`SpiralMnist` builds MNIST from the four original IDX files in a directory you give (the "manual
dir"): each file's SHA-256 is checked against tensorflow-datasets' own MNIST checksums before
anything is written. Nothing touches the network; a missing or wrong file fails at once, saying
where the files go.

  builder = tfds_builders.SpiralMnist(data_dir="~/tensorflow_datasets")
  tfds_builders.prepare(builder, manual_dir="/data/mnist")
  source = builder.as_data_source(split="test")   # random access: source[i]["image"]

Examples hold "image" (uint8 (28, 28), 255 = ink, as in the IDX files) and "label", in the
original files' order.
"""

import hashlib
import os

import numpy as np

from spiral_jax.data import images as images_lib

try:
  import tensorflow_datasets as tfds
except ImportError as e:  # pragma: no cover - the [data] extra is not installed
  raise ImportError("spiral_jax.data.tfds_builders needs tensorflow-datasets: "
                    "pip install 'spiral-jax[data]'.") from e

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def tfds_mnist_checksums():
  """{file name: sha256} from tensorflow-datasets' own MNIST checksum file."""
  path = os.path.join(os.path.dirname(tfds.__file__), "url_checksums", "mnist.txt")
  checksums = {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      parts = line.split()
      if len(parts) >= 3:
        checksums[os.path.basename(parts[0])] = parts[2]
  return checksums


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def check_mnist_dir(manual_dir):
  """Raises DataError unless manual_dir holds the four original files, byte for byte."""
  expected = tfds_mnist_checksums()
  for names in MNIST_FILES.values():
    for name in names:
      path = os.path.join(manual_dir, name)
      if not os.path.exists(path):
        raise images_lib.DataError(
            f"MNIST file {name} is missing from {manual_dir!r}: put the four original files "
            f"({', '.join(n for ns in MNIST_FILES.values() for n in ns)}) there.")
      if _sha256(path) != expected[name]:
        raise images_lib.DataError(f"{path} is not the original MNIST file (its SHA-256 differs "
                                   "from tensorflow-datasets' checksum): download it again.")


class SpiralMnist(tfds.core.GeneratorBasedBuilder):
  """MNIST from the original IDX files, verified against tfds' checksums."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "MNIST from the original IDX files."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = ("Put the four original MNIST files (train-images-idx3-ubyte.gz, "
                                  "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                                  "t10k-labels-idx1-ubyte.gz) in the manual directory.")

  def __init__(self, **kwargs):
    kwargs.setdefault("file_format", "array_record")
    super().__init__(**kwargs)

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(28, 28), dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=("image", "label"),
        disable_shuffling=True,  # examples keep the original files' order
        homepage="http://yann.lecun.com/exdb/mnist/",
        license="CC BY-SA 3.0")

  def _split_generators(self, dl_manager):
    manual_dir = os.fspath(dl_manager.manual_dir)
    check_mnist_dir(manual_dir)
    return {split: self._generate_examples(manual_dir, *names)
            for split, names in MNIST_FILES.items()}

  def _generate_examples(self, manual_dir, images_name, labels_name):
    images = images_lib.read_idx(os.path.join(manual_dir, images_name))
    labels = images_lib.read_idx(os.path.join(manual_dir, labels_name))
    for i, (image, label) in enumerate(zip(images, labels)):
      yield i, {"image": image, "label": int(label)}


def prepare(builder, manual_dir):
  """Builds the dataset from manual_dir (offline; a no-op when already built)."""
  if not manual_dir or not os.path.isdir(manual_dir):
    raise images_lib.DataError(f"Data directory {manual_dir!r} does not exist: "
                               f"{builder.MANUAL_DOWNLOAD_INSTRUCTIONS}")
  config = tfds.download.DownloadConfig(manual_dir=manual_dir, try_download_gcs=False)
  builder.download_and_prepare(download_config=config)
  return builder
