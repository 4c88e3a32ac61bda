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
from tfds_local import ArrayRecordByDefault, image_feature

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


class SpiralMnist(ArrayRecordByDefault, tfds.core.GeneratorBasedBuilder):
  """MNIST from the original IDX files, verified against tfds' checksums."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "MNIST from the original IDX files."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = ("Put the four original MNIST files (train-images-idx3-ubyte.gz, "
                                  "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                                  "t10k-labels-idx1-ubyte.gz) in the manual directory.")

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": image_feature((28, 28)),
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
  if not os.listdir(manual_dir):
    raise images_lib.DataError(f"Data directory {manual_dir!r} is empty: "
                               f"{builder.MANUAL_DOWNLOAD_INSTRUCTIONS}")
  config = tfds.download.DownloadConfig(manual_dir=manual_dir, try_download_gcs=False)
  builder.download_and_prepare(download_config=config)
  return builder


# Omniglot and CelebA: from the original image files in a directory.

OMNIGLOT_SPLITS = {"background": "images_background", "evaluation": "images_evaluation"}


def _extracted(manual_dir, name):
  """manual_dir/name, extracting manual_dir/name.zip there first if only the archive exists."""
  folder = os.path.join(manual_dir, name)
  archive = folder + ".zip"
  if not os.path.isdir(folder) and os.path.isfile(archive):
    import zipfile  # pylint: disable=import-outside-toplevel
    try:
      with zipfile.ZipFile(archive) as z:
        z.extractall(manual_dir)
    except zipfile.BadZipFile as e:
      raise images_lib.DataError(f"{archive} is not a readable zip archive ({e}).") from e
  return folder


def _read_grey(path):
  from PIL import Image  # pylint: disable=import-outside-toplevel
  try:
    with Image.open(path) as image:
      return np.asarray(image.convert("L"))
  except OSError as e:
    raise images_lib.DataError(f"Cannot read image {path}: {e}.") from e


class SpiralOmniglot(ArrayRecordByDefault, tfds.core.GeneratorBasedBuilder):
  """Omniglot from its original PNGs: splits "background" and "evaluation", each example with
  its alphabet, character and drawer. Images are (105, 105) uint8 with 255 = ink (the inverse of
  the PNGs, like MNIST)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Omniglot from the original PNG folders or zips."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "Put images_background/ and/or images_evaluation/ (or their .zip archives) from "
      "https://github.com/brendenlake/omniglot in the manual directory; each holds "
      "<alphabet>/character<NN>/<id>_<drawer>.png.")

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": image_feature((105, 105)),
            "alphabet": tfds.features.Text(),
            "alphabet_id": np.int32,
            "character_id": np.int32,
            "drawer": np.int32,
        }),
        disable_shuffling=True,
        homepage="https://github.com/brendenlake/omniglot", license="MIT")

  def _split_generators(self, dl_manager):
    manual_dir = os.fspath(dl_manager.manual_dir)
    splits = {}
    for split, name in OMNIGLOT_SPLITS.items():
      folder = _extracted(manual_dir, name)
      if os.path.isdir(folder):
        splits[split] = self._generate_examples(folder)
    if not splits:
      raise images_lib.DataError(f"No Omniglot images in {manual_dir!r}: "
                                 f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
    return splits

  def _generate_examples(self, folder):
    alphabets = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    character_id = 0
    for alphabet_id, alphabet in enumerate(alphabets):
      root = os.path.join(folder, alphabet)
      for character in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, character))):
          if not name.endswith(".png"):
            continue
          path = os.path.join(root, character, name)
          image = _read_grey(path)
          if image.shape != (105, 105):
            raise images_lib.DataError(f"{path} is {image.shape}, not a 105x105 Omniglot image.")
          drawer = int(os.path.splitext(name)[0].split("_")[-1])
          yield f"{alphabet}/{character}/{name}", {
              "image": 255 - image, "alphabet": alphabet, "alphabet_id": alphabet_id,
              "character_id": character_id, "drawer": drawer}
        character_id += 1


class SpiralCelebA(ArrayRecordByDefault, tfds.core.GeneratorBasedBuilder):
  """CelebA's aligned faces from the JPEGs (img_align_celeba/ or img_align_celeba.zip),
  centre-cropped to a square and resized to 64x64 RGB uint8; one split, "train"."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "CelebA aligned JPEGs, centre crop, 64x64."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = ("Put img_align_celeba/ (the aligned JPEGs) or "
                                  "img_align_celeba.zip in the manual directory.")
  SIZE = 64

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": image_feature((self.SIZE, self.SIZE, 3)),
            "name": tfds.features.Text(),
        }),
        disable_shuffling=True,
        homepage="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
        license="non-commercial research use only")

  def _split_generators(self, dl_manager):
    folder = _extracted(os.fspath(dl_manager.manual_dir), "img_align_celeba")
    if not os.path.isdir(folder):
      raise images_lib.DataError(f"No CelebA images in {os.fspath(dl_manager.manual_dir)!r}: "
                                 f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
    return {"train": self._generate_examples(folder)}

  def _generate_examples(self, folder):
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    for name in names:
      image = images_lib.image_folder_image(os.path.join(folder, name), self.SIZE, False)
      yield name, {"image": np.round(image * 255).astype(np.uint8), "name": name}


BUILDERS = {"mnist": SpiralMnist, "omniglot": SpiralOmniglot, "celeba": SpiralCelebA}


def _prepared(name, manual_dir, split):
  """The builder of dataset `name`, built on first use in $TFDS_DATA_DIR (default
  ~/tensorflow_datasets), after checking that `split` (slices allowed) is one of its splits."""
  data_dir = os.environ.get("TFDS_DATA_DIR", os.path.expanduser("~/tensorflow_datasets"))
  builder = BUILDERS[name](data_dir=data_dir)
  prepare(builder, manual_dir)
  from spiral_jax.data import datasets  # pylint: disable=import-outside-toplevel
  base, _ = datasets.parse_split(split)
  if base not in builder.info.splits:
    raise images_lib.DataError(f"{name} has splits {sorted(builder.info.splits)}, not {base!r}.")
  return builder


def open_images(name, manual_dir, split, size, grayscale, limit=None):
  """A split as an `images.SourceImages`: read from the array_record files when drawn, so memory
  holds a batch, not the split."""
  builder = _prepared(name, manual_dir, split)
  source = builder.as_data_source(split=split)
  if limit:
    source = _Head(source, limit)
  if not len(source):
    raise images_lib.DataError(f"Split {split!r} of {name} holds no images.")
  return images_lib.SourceImages(source, size, grayscale=grayscale)


class _Head:
  """The first `limit` examples of a random-access source (tfds' data sources do not slice)."""

  def __init__(self, source, limit):
    self.source, self.limit = source, min(limit, len(source))
    self.dataset_info, self.data_source = (getattr(source, "dataset_info", None),
                                           getattr(source, "data_source", None))

  def __len__(self):
    return self.limit

  def __getitems__(self, indices):
    return self.source.__getitems__(indices)

  def __getitem__(self, index):
    return self.source[index]


def _online(host="storage.googleapis.com", port=443, timeout_s=3.0):
  import socket  # pylint: disable=import-outside-toplevel
  try:
    with socket.create_connection((host, port), timeout=timeout_s):
      return True
  except OSError:
    return False


def load_public(name, manual_dir, split, size, grayscale, limit=None):
  """A tensorflow-datasets catalogue dataset ("mnist", "omniglot", ...) through `tfds.load`, at
  canvas size. This path needs TensorFlow. Offline it needs the dataset prepared already, or its
  files in manual_dir; it fails at once instead of waiting on the network."""
  try:
    import tensorflow  # pylint: disable=import-outside-toplevel,unused-import
  except ImportError as e:
    raise images_lib.DataError(
        f"'tfds:{name}' uses tensorflow-datasets' own builder, which needs TensorFlow (pip install "
        "tensorflow-cpu). Without TensorFlow use 'mnist', 'omniglot' or 'celeba' with the original "
        "files.") from e
  data_dir = os.environ.get("TFDS_DATA_DIR", os.path.expanduser("~/tensorflow_datasets"))
  builder = tfds.builder(name, data_dir=data_dir)
  if not builder.is_prepared():
    if manual_dir:
      config = tfds.download.DownloadConfig(manual_dir=manual_dir)
      builder.download_and_prepare(download_config=config)
    elif _online():
      builder.download_and_prepare()
    else:
      raise images_lib.DataError(
          f"tensorflow-datasets' {name!r} is not prepared in {data_dir} and this machine is "
          f"offline: put its original files in a directory and pass it as the data directory.")
  images = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))["image"]
  images = images[:limit] if limit else images
  # grey catalogue sets (MNIST ...) store ink bright
  return images_lib.raw_to_canvas(images, size, grayscale)
