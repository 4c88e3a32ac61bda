"""The tfds MNIST builder (array_record, no TensorFlow, offline) and the batch pipeline."""

import gzip
import os
import shutil
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np
from PIL import Image

from spiral_jax.data import datasets
from spiral_jax.data import images
from spiral_jax.data import tfds_builders

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_MNIST = os.environ.get("SPIRAL_MNIST_DIR",
                              os.path.join(ROOT, "..", "shared", "datasets", "mnist"))


class TfdsMnistTest(absltest.TestCase):

  @absltest.skipUnless(os.path.isdir(SHARED_MNIST),
                       f"the original MNIST files are not at {SHARED_MNIST} (set SPIRAL_MNIST_DIR)")
  def test_builder_gives_exactly_the_original_images(self):
    builder = tfds_builders.SpiralMnist(data_dir=self.create_tempdir().full_path)
    tfds_builders.prepare(builder, SHARED_MNIST)
    for split, count in (("train", 60000), ("test", 10000)):
      source = builder.as_data_source(split=split)
      self.assertLen(source, count)
      examples = source.__getitems__(list(range(count)))
      got = np.stack([e["image"] for e in examples])
      labels = np.array([e["label"] for e in examples])
      np.testing.assert_array_equal(got, images.mnist(SHARED_MNIST, split))
      names = tfds_builders.MNIST_FILES[split]
      np.testing.assert_array_equal(labels, images.read_idx(os.path.join(SHARED_MNIST, names[1])))
    source = builder.as_data_source(split="test")
    pipeline = images.SourceImages(source, 64)
    self.assertIsNotNone(pipeline._fast)  # pylint: disable=protected-access
    picked = [5, 17, 9999]
    np.testing.assert_array_equal(pipeline._read(picked),  # pylint: disable=protected-access
                                  np.stack([e["image"] for e in source.__getitems__(picked)]))
    batch = pipeline.batch(64, counter=3)
    self.assertEqual(batch.shape, (64, 64, 64, 1))
    np.testing.assert_array_equal(batch, pipeline.batch(64, counter=3))  # deterministic
    self.assertFalse(np.array_equal(batch, pipeline.batch(64, counter=4)))

  def test_an_unprepared_builder_leaves_no_temporary_directory(self):
    scratch = self.create_tempdir().full_path
    with mock.patch.object(tempfile, "tempdir", scratch):
      builder = tfds_builders.SpiralMnist(data_dir=self.create_tempdir().full_path)
      self.assertEqual(builder.info.name, "spiral_mnist")
    self.assertEqual(os.listdir(scratch), [])

  def test_wrong_files_fail_at_once_without_the_network(self):
    directory = self.create_tempdir().full_path
    builder = tfds_builders.SpiralMnist(data_dir=self.create_tempdir().full_path)
    with self.assertRaisesRegex(images.DataError, "does not exist"):
      tfds_builders.prepare(builder, os.path.join(directory, "nowhere"))
    with self.assertRaisesRegex(images.DataError, "train-images-idx3-ubyte.gz is missing"):
      tfds_builders.check_mnist_dir(directory)
    for names in tfds_builders.MNIST_FILES.values():
      for name in names:
        with gzip.open(os.path.join(directory, name), "wb") as f:
          f.write(b"\0\0\x08\x01\0\0\0\x01\x07")
    with self.assertRaisesRegex(images.DataError, "not the original MNIST file"):
      tfds_builders.prepare(builder, directory)


class PipelineTest(absltest.TestCase):

  def test_resize_matches_pillow(self):
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    for size in (64, 16):
      expected = np.asarray(Image.fromarray(x[2, :, :, 0], mode="F").resize(
          (size, size), Image.BILINEAR))
      np.testing.assert_allclose(images.resize(x, size)[2, :, :, 0], np.clip(expected, 0, 1),
                                 atol=1e-5)

  def test_source_batches_keep_the_drawn_order(self):
    source = [{"image": np.full((4, 4), i, np.uint8)} for i in range(50)]
    pipeline = images.SourceImages(source, 4, seed=1)
    batch = pipeline.batch(10, counter=0)
    drawn = np.random.default_rng((1, 0, 0)).integers(0, 50, 10)
    np.testing.assert_allclose(batch[:, 0, 0, 0], 1.0 - drawn / 255.0, atol=1e-6)

  def test_array_images_keep_uint8_and_draw_the_same_batches(self):
    rng = np.random.default_rng(0)
    floats = rng.uniform(size=(20, 8, 8, 1)).astype(np.float32)
    as_bytes = np.round(floats * 255).astype(np.uint8)
    kept = images.ArrayImages(as_bytes, seed=3)
    self.assertEqual(kept.images.nbytes, floats.nbytes // 4)
    np.testing.assert_allclose(kept.take([4, 4, 0]), floats[[4, 4, 0]], atol=0.5 / 255)
    np.testing.assert_array_equal(images.ArrayImages(floats).take([1, 2]), floats[[1, 2]])
    np.testing.assert_array_equal(kept.batch(5, 7), kept.batch(5, 7))
    self.assertFalse(np.array_equal(kept.batch(5, 7), kept.batch(5, 8)))
    np.testing.assert_array_equal(kept.reseeded(4).batch(5, 7),
                                  images.ArrayImages(as_bytes, seed=4).batch(5, 7))
    self.assertEqual(kept.first(25).shape, (25, 8, 8, 1))  # cycles past the end
    with self.assertRaisesRegex(images.DataError, "N, H, W, C"):
      images.ArrayImages(floats[0])

  def test_folder_images_read_files_when_drawn(self):
    directory = self.create_tempdir().full_path
    for i in range(5):
      Image.fromarray(np.full((30, 40, 3), 40 * i, np.uint8)).save(
          os.path.join(directory, f"{i}.png"))
    folder = images.FolderImages(directory, 16, grayscale=False)
    self.assertLen(folder, 5)
    self.assertEqual(folder.image_shape, (16, 16, 3))
    np.testing.assert_array_equal(folder.take([3, 1]),
                                  images.image_folder(directory, 16, False)[[3, 1]])
    os.remove(os.path.join(directory, "3.png"))  # read when drawn, not before
    with self.assertRaisesRegex(images.DataError, "Cannot read image"):
      folder.take([3])

  def test_open_images_streams_large_sets_and_holds_mnist_as_uint8(self):
    digits, labels = datasets.open_labelled("mnist_sample", split="test[:50]", size=32)
    self.assertIsInstance(digits, images.ArrayImages)
    self.assertEqual(digits.images.dtype, np.uint8)
    self.assertLen(labels, 50)
    whole, _ = datasets.load_labelled("mnist_sample", split="test[:50]", size=32)
    np.testing.assert_allclose(digits.take(np.arange(50)), whole, atol=0.5 / 255 + 1e-6)
    directory = self.create_tempdir().full_path
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(os.path.join(directory, "a.png"))
    self.assertIsInstance(datasets.open_images("folder", directory, size=8),
                          images.FolderImages)



class OmniglotSampleTest(absltest.TestCase):
  """The shipped Omniglot sample: the `omniglot` agent's held-out drawings."""

  def test_held_out_drawings_at_canvas_size(self):
    drawings = datasets.open_images("omniglot_sample", split="test", size=64)
    self.assertLen(drawings, 1900)
    first = datasets.load("omniglot_sample", split="test[:10]", size=64)
    self.assertEqual(first.shape, (10, 64, 64, 1))
    np.testing.assert_allclose(first, drawings.take(np.arange(10)), atol=1 / 255)
    # white paper, dark ink: mostly paper, some ink in every drawing
    self.assertGreater(first.mean(), 0.85)
    self.assertTrue(np.all(first.reshape(10, -1).min(axis=1) < 0.5))
    colour = datasets.load("omniglot_sample", split="test[:2]", size=32, grayscale=False)
    self.assertEqual(colour.shape, (2, 32, 32, 3))
    with self.assertRaisesRegex(images.DataError, "has the split test, not 'background'"):
      datasets.load("omniglot_sample", split="background", size=64)
    with self.assertRaisesRegex(images.DataError, "holds no images"):
      datasets.load("omniglot_sample", split="test[5:5]", size=64)



SHARED = os.path.dirname(SHARED_MNIST)


@absltest.skipUnless(os.path.isfile(os.path.join(SHARED, "omniglot_background.npz")),
                     f"the shared Omniglot and CelebA files are not in {SHARED}")
class FolderBuildersTest(absltest.TestCase):
  """Omniglot and CelebA builders on small fixtures written from the shared data in the
  datasets' original layouts (PNG folders, a zip of JPEGs)."""

  def test_omniglot(self):
    manual = self.create_tempdir().full_path
    data = np.load(os.path.join(SHARED, "omniglot_background.npz"))
    alphabets = data["background_alphabets"]
    chosen = [i for i in range(len(data["background_images"]))
              if data["background_alphabet_ids"][i] < 2
              and data["background_character_numbers"][i] <= 2
              and data["background_drawer_ids"][i] <= 3]
    for i in chosen:
      folder = os.path.join(manual, "images_background",
                            str(alphabets[data["background_alphabet_ids"][i]]),
                            f"character{data['background_character_numbers'][i]:02d}")
      os.makedirs(folder, exist_ok=True)
      Image.fromarray(255 - data["background_images"][i]).save(os.path.join(
          folder, f"{data['background_character_ids'][i]:04d}_"
                  f"{data['background_drawer_ids'][i]:02d}.png"))
    # The same characters again as a zip, standing in for the evaluation split's archive.
    evaluation = os.path.join(manual, "images_evaluation")
    shutil.copytree(os.path.join(manual, "images_background"), evaluation)
    shutil.make_archive(evaluation, "zip", manual, "images_evaluation")
    shutil.rmtree(evaluation)
    builder = tfds_builders.SpiralOmniglot(data_dir=self.create_tempdir().full_path)
    with self.assertRaisesRegex(images.DataError, "is empty.*images_background"):
      tfds_builders.prepare(builder, self.create_tempdir().full_path)
    not_omniglot = self.create_tempdir().full_path
    os.makedirs(os.path.join(not_omniglot, "something_else"))
    with self.assertRaisesRegex(images.DataError, "No Omniglot images"):
      tfds_builders.prepare(builder, not_omniglot)
    tfds_builders.prepare(builder, manual)
    source = builder.as_data_source(split="background")
    self.assertLen(source, len(chosen))
    examples = source.__getitems__(list(range(len(chosen))))
    by_key = {(e["alphabet_id"], e["character_id"], e["drawer"]) for e in examples}
    self.assertLen(by_key, len(chosen))
    first = examples[0]
    original = [i for i in chosen if data["background_alphabet_ids"][i] == first["alphabet_id"]
                and data["background_drawer_ids"][i] == first["drawer"]][0]
    np.testing.assert_array_equal(first["image"], data["background_images"][original])
    name = first["alphabet"]
    self.assertEqual(name.decode() if isinstance(name, bytes) else name,
                     str(alphabets[first["alphabet_id"]]))
    self.assertLen(builder.as_data_source(split="evaluation"), len(chosen))  # from the zip

  def test_celeba_from_a_zip(self):
    manual = self.create_tempdir().full_path
    data = np.load(os.path.join(SHARED, "celeba_first9000.npz"))
    folder = os.path.join(manual, "img_align_celeba")
    os.makedirs(folder)
    offsets = data["jpeg_offsets"]
    for i in range(5):
      with open(os.path.join(folder, f"{data['image_ids'][i]:06d}.jpg"), "wb") as f:
        f.write(data["jpeg_bytes"][offsets[i]:offsets[i + 1]].tobytes())
    shutil.make_archive(folder, "zip", manual, "img_align_celeba")
    shutil.rmtree(folder)
    builder = tfds_builders.SpiralCelebA(data_dir=self.create_tempdir().full_path)
    tfds_builders.prepare(builder, manual)
    source = builder.as_data_source(split="train")
    self.assertLen(source, 5)
    image = source[0]["image"]
    self.assertEqual(image.shape, (64, 64, 3))
    self.assertGreater(float(np.std(image)), 10.0)  # a face, not a blank
    expected = images.image_folder_image(os.path.join(folder, "000001.jpg"), 64, False)
    np.testing.assert_allclose(image / 255.0, expected, atol=1 / 255 + 1e-6)


class PublicTfdsTest(absltest.TestCase):

  def test_without_tensorflow_the_catalogue_path_says_what_to_do(self):
    try:
      import tensorflow  # pylint: disable=import-outside-toplevel,unused-import
      self.skipTest("TensorFlow is installed")
    except ImportError:
      pass
    with self.assertRaisesRegex(images.DataError, "needs TensorFlow.*'mnist'"):
      datasets.load("tfds:mnist", size=32)


if __name__ == "__main__":
  absltest.main()
