"""Experiment configs, the data they load, and the train entry point's wiring."""

import glob
import os
import subprocess
import sys

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
from PIL import Image, ImageDraw

from environments import programs
from experiments import measure
from experiments import figures
from experiments import line_drawings
from experiments import setups
from experiments.configs import base
from spiral_jax import evaluation
from spiral_jax import metrics as metrics_lib
from spiral_jax import pictures
from spiral_jax import training
from spiral_jax.data import datasets
from spiral_jax.data import images as images_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "experiments", "configs")
CONFIGS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(CONFIG_DIR, "*.py"))
                 if not os.path.basename(p).startswith(("_", "base")))


def _load_config(name, size):
  module = __import__(f"experiments.configs.{name}", fromlist=["get_config"])
  return module.get_config(size)


def make_image_folder(directory, count=6, size=(60, 50), colour=False, flat=False, prefix=""):
  """Small drawings saved as image files (in two sub-folders unless flat)."""
  rng = np.random.default_rng(0)
  for i in range(count):
    image = Image.new("RGB" if colour else "L", size, "white")
    draw = ImageDraw.Draw(image)
    points = [tuple(int(v) for v in rng.integers(0, min(size), 2)) for _ in range(4)]
    draw.line(points, fill=(200, 30, 30) if colour else 0, width=3)
    sub = directory if flat else os.path.join(directory, f"group{i % 2}")
    os.makedirs(sub, exist_ok=True)
    image.save(os.path.join(sub, f"{prefix}{i + 1:02d}.{'jpg' if colour else 'png'}"))
  return directory


def make_dataset_dir(directory, name):
  """A tiny manual directory in the original layout of Omniglot (PNG folders) or CelebA (JPEGs)."""
  if name == "omniglot":
    for alphabet in ("Alpha", "Beta"):
      make_image_folder(os.path.join(directory, "images_background", alphabet, "character01"),
                        count=2, size=(105, 105), flat=True, prefix="0001_")
  elif name == "celeba":
    make_image_folder(os.path.join(directory, "img_align_celeba"), count=4, size=(89, 109),
                      colour=True, flat=True)
  else:
    make_image_folder(directory)
  return directory


class ConfigTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    os.environ["TFDS_DATA_DIR"] = self.create_tempdir().full_path

  def test_every_config_file_is_covered(self):
    self.assertGreaterEqual(len(CONFIGS), 8)

  @parameterized.parameters(*[(name, size) for name in CONFIGS for size in base.SIZES])
  def test_config_builds_an_agent(self, name, size):
    config = _load_config(name, size)
    if config.data.name in ("omniglot", "celeba", "folder"):
      config.data.data_dir = make_dataset_dir(self.create_tempdir().full_path, config.data.name)
      config.data.split = config.data.split.split("[")[0]  # the fixture holds a few images
    if config.data.name == "mujoco_scenes":
      config.data.limit = 16  # scenes are generated (rendered) in memory
    if config.data.name == "mnist":  # full MNIST needs its original files; the sample stands in
      config.data.name = "mnist_sample"
    setup = setups.make_setup(config)
    policy, discriminator, learner_config = training.build_agent(config, setup)
    canvas = config.env.kwargs.canvas_size
    self.assertEqual(tuple(setup.images.image_shape[:2]), (canvas, canvas))
    self.assertEqual(policy.conditional, learner_config.discriminator != "unconditional"
                     or learner_config.reward == "l2")
    self.assertEqual(discriminator.image_shape, policy.canvas_shape)

  def test_unknown_size_is_refused(self):
    with self.assertRaisesRegex(ValueError, "small"):
      base.get_config("huge")


class DataTest(absltest.TestCase):

  def test_shipped_mnist_sample(self):
    images, labels = datasets.load_labelled("mnist_sample", split="test", size=32)
    self.assertEqual(images.shape, (1000, 32, 32, 1))
    self.assertAlmostEqual(float(images.max()), 1.0, places=5)  # white paper ...
    self.assertLess(float(images.min()), 0.05)  # ... and dark ink
    self.assertGreater(float(np.mean(images)), 0.7)  # mostly paper
    self.assertEqual(sorted(set(labels.tolist())), list(range(10)))
    train, train_labels = datasets.load_labelled("mnist_sample", split="train", size=32)
    self.assertEqual(train.shape, (10000, 32, 32, 1))
    self.assertLen(train_labels, 10000)
    # Train and test digits differ (the main job is evaluated on digits it never saw).
    self.assertFalse(np.any(np.all(train[:, None, ::4, ::4] == images[None, :50, ::4, ::4],
                                   axis=(2, 3, 4))))

  def test_sliced_splits(self):
    whole, labels = datasets.load_labelled("mnist_sample", split="train", size=16)
    head, head_labels = datasets.load_labelled("mnist_sample", split="train[:9000]", size=16)
    tail, _ = datasets.load_labelled("mnist_sample", split="train[9000:]", size=16)
    np.testing.assert_array_equal(head, whole[:9000])
    np.testing.assert_array_equal(head_labels, labels[:9000])
    np.testing.assert_array_equal(tail, whole[9000:])
    self.assertEqual(datasets.parse_split("test[-5:]"), ("test", slice(-5, None)))
    with self.assertRaisesRegex(images_lib.DataError, "Cannot read split"):
      datasets.load("mnist_sample", split="train[:half]")
    with self.assertRaisesRegex(images_lib.DataError, "splits train and test"):
      datasets.load("mnist_sample", split="validation")
    with self.assertRaisesRegex(images_lib.DataError, "holds no images"):
      datasets.load("mnist_sample", split="test[5:5]")

  def test_idx_files_and_their_errors(self):
    directory = self.create_tempdir().full_path
    raw = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in raw.shape)
    with open(os.path.join(directory, "train-images-idx3-ubyte"), "wb") as f:
      f.write(header + raw.tobytes())
    np.testing.assert_array_equal(images_lib.mnist(directory, "train"), raw)
    with open(os.path.join(directory, "t10k-images-idx3-ubyte"), "wb") as f:
      f.write(header + raw.tobytes()[:100])
    with self.assertRaisesRegex(images_lib.DataError, "truncated"):
      images_lib.mnist(directory, "test")
    with self.assertRaisesRegex(images_lib.DataError, "No MNIST train images.*original file"):
      images_lib.mnist(self.create_tempdir().full_path, "train")
    with self.assertRaisesRegex(images_lib.DataError, "needs a data directory"):
      datasets.load("mnist")

  def test_image_folder(self):
    directory = make_image_folder(self.create_tempdir().full_path, colour=True)
    images = datasets.load("folder", directory, size=16, grayscale=False)
    self.assertEqual(images.shape, (6, 16, 16, 3))
    self.assertGreater(float(np.mean(images)), 0.8)
    reds = images[..., 0] - images[..., 2]
    self.assertGreater(float(reds.max()), 0.3)  # the red strokes survived the resize
    with self.assertRaisesRegex(images_lib.DataError, "does not exist"):
      datasets.load("folder", os.path.join(directory, "nope"), size=16)
    with open(os.path.join(directory, "group0", "broken.png"), "wb") as f:
      f.write(b"not a png")
    with self.assertRaisesRegex(images_lib.DataError, "Cannot read image.*broken.png"):
      datasets.load("folder", directory, size=16)


class RunTest(absltest.TestCase):

  def test_colour_folder_config_trains_for_a_few_updates(self):
    os.environ["TFDS_DATA_DIR"] = self.create_tempdir().full_path
    config = _load_config("celeba_conditional", "small")
    config.data.data_dir = make_dataset_dir(self.create_tempdir().full_path, "celeba")
    config.update_from_flattened_dict({"max_minutes": 0.0, "max_updates": 3, "progress": False,
                                       "log_every_updates": 1, "learner.batch_size": 8,
                                       "env.kwargs.episode_length": 3})
    workdir = self.create_tempdir().full_path
    summary = training.run(config, setups.make_setup(config), workdir)
    self.assertEqual(summary["updates"], 3)
    records = metrics_lib.read_jsonl(os.path.join(workdir, "metrics.jsonl"))
    self.assertLen(records, 3)
    for name in ("l2", "d_loss", "entropy", "frames_per_s"):
      self.assertTrue(np.isfinite(records[-1][name]), name)


if __name__ == "__main__":
  absltest.main()


class EvaluateTest(absltest.TestCase):

  def test_l2_summary(self):
    targets = np.zeros((4, 2, 2, 1))
    renders = targets + np.array([0.0, 0.1, 0.2, 0.3])[:, None, None, None]
    summary = evaluation.l2_summary(renders, targets)
    per_image = np.array([0.0, 0.01, 0.04, 0.09])
    self.assertAlmostEqual(summary["l2_mean"], per_image.mean())
    self.assertAlmostEqual(summary["l2_ci95"], 1.96 * per_image.std(ddof=1) / 2.0)
    self.assertEqual(summary["num_images"], 4)
    with self.assertRaisesRegex(ValueError, "differ in shape"):
      evaluation.l2_summary(renders[:, :1], targets)

  def _tiny_run(self, config_name):
    """The workdir of a 2-update run of a small config on a 16x16 canvas, 3 steps, batch 8."""
    config = _load_config(config_name, "small")
    config.update_from_flattened_dict({
        "max_minutes": 0.0, "max_updates": 2, "progress": False, "learner.batch_size": 8,
        "env.kwargs.canvas_size": 16, "env.kwargs.grid_size": 4, "env.kwargs.episode_length": 3})
    workdir = self.create_tempdir().full_path
    training.run(config, setups.make_setup(config), workdir)
    return workdir

  def test_evaluate_a_checkpoint(self):
    workdir = self._tiny_run("mnist_conditional")
    greedy, renders, targets = measure.evaluate(workdir, num_images=20, batch_size=8)
    self.assertEqual(greedy["num_images"], 20)
    self.assertEqual(renders.shape, targets.shape)
    self.assertAlmostEqual(greedy["l2_mean"], float(np.mean(np.square(renders - targets))),
                           places=5)
    self.assertEqual(greedy["updates"], 2)
    self.assertEqual(greedy["frames"], 2 * 8 * 3)
    self.assertIn("recognised", greedy)  # MNIST digits: the classifier reads the paintings
    self.assertGreater(greedy["blank_l2"], 0.0)
    again, _, _ = measure.evaluate(workdir, num_images=20, batch_size=8)
    self.assertEqual(again["l2_mean"], greedy["l2_mean"])  # greedy is deterministic
    on_libmypaint, _, _ = measure.evaluate(workdir, num_images=8, batch_size=8,
                                            renderer="libmypaint")
    self.assertEqual(on_libmypaint["renderer"], "libmypaint")
    self.assertTrue(0.0 < on_libmypaint["l2_mean"] < 1.0)

  def test_evaluate_and_paint_an_unconditional_agent(self):
    workdir = self._tiny_run("mnist_unconditional")
    summary, samples, targets = measure.evaluate(workdir, num_images=20, batch_size=8)
    self.assertIsNone(targets)
    self.assertEqual(samples.shape, (20, 16, 16, 1))
    self.assertEqual(summary["num_images"], 20)
    self.assertTrue(0.0 <= summary["confident"] <= 1.0)
    self.assertAlmostEqual(sum(summary[f"class_share_{c}"] for c in range(10)), 1.0, places=6)
    self.assertEqual(summary["class_min_share"],
                     min(summary[f"class_share_{c}"] for c in range(10)))
    _, other, _ = measure.evaluate(workdir, num_images=20, batch_size=8, seed=1)
    self.assertFalse(np.array_equal(other, samples))  # sampled: another seed, other paintings
    out_dir = self.create_tempdir().full_path
    command = [sys.executable, "-m", "experiments.paint", f"--workdir={workdir}",
               f"--out_dir={out_dir}", "--big_size=64"]
    result = subprocess.run(command + ["--samples=5"], capture_output=True, text=True,
                            cwd=ROOT, check=False)
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn("Painted 5 samples", result.stdout)
    for name in ("samples.png", "samples_256.png", "sample_000.json", "sample_004.svg"):
      self.assertTrue(os.path.exists(os.path.join(out_dir, name)), name)
    program = programs.load(os.path.join(out_dir, "sample_004.json"))
    self.assertLen(program, 3)
    result = subprocess.run(command + [f"--image={os.path.join(out_dir, 'samples.png')}"],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("unconditional", result.stderr)


class TargetsTest(absltest.TestCase):
  """Which images an agent is measured on when the command does not say."""

  def _config(self, name, **data):
    config = base.get_config("small")
    config.data.name = name
    config.data.update(data)
    return config

  def test_shipped_agents_use_the_shipped_held_out_sample(self):
    for own, sample in (("mnist", "mnist_sample"), ("omniglot", "omniglot_sample")):
      config = setups.choose_targets(self._config(own, split="train"), shipped=True)
      self.assertEqual((config.data.name, config.data.split), (sample, "test"))

  def test_with_a_data_directory_the_held_out_split_of_the_full_dataset(self):
    config = setups.choose_targets(
        self._config("omniglot", split="background[:16260]", test_split="background[17380:]"),
        shipped=True, data_dir="/data/omniglot")
    self.assertEqual((config.data.name, config.data.split, config.data.data_dir),
                     ("omniglot", "background[17380:]", "/data/omniglot"))
    config = setups.choose_targets(self._config("mnist_sample"), shipped=False,
                                   data_dir="/data/mnist", split="train[55000:]")
    self.assertEqual((config.data.name, config.data.split), ("mnist", "train[55000:]"))
    config = setups.choose_targets(self._config("omniglot", test_split="background[17380:]"),
                                   shipped=True, dataset="folder", data_dir="/drawings")
    self.assertEqual((config.data.name, config.data.data_dir), ("folder", "/drawings"))


class LineDrawingsTest(absltest.TestCase):
  """The out-of-domain line drawings: black on white, Omniglot's size, a function of the seed."""

  def test_three_kinds_of_drawings(self):
    first, again = self.create_tempdir().full_path, self.create_tempdir().full_path
    self.assertEqual(line_drawings.write(first, num=4, seed=3),
                     {"shapes": 4, "letters": 4, "digits": 4})
    line_drawings.write(again, num=4, seed=3)
    for kind in line_drawings.KINDS:
      names = sorted(os.listdir(os.path.join(first, kind)))
      self.assertLen(names, 4)
      for name in names:
        drawing = np.asarray(Image.open(os.path.join(first, kind, name)))
        self.assertEqual(drawing.shape, (105, 105))
        ink = (drawing < 128).mean()
        self.assertTrue(0.01 < ink < 0.4, f"{kind}/{name}: {ink:.3f} of it is ink")
        np.testing.assert_array_equal(drawing,
                                      np.asarray(Image.open(os.path.join(again, kind, name))))
    folder = datasets.load("folder", first, size=64)
    self.assertEqual(folder.shape, (12, 64, 64, 1))
    self.assertGreater(folder.mean(), 0.6)  # read as white paper with dark ink


class FiguresTest(absltest.TestCase):

  def test_compare_runs(self):
    runs = []
    for name, slope in (("d_reward", 0.02), ("l2_reward", 0.01)):
      workdir = os.path.join(self.create_tempdir().full_path, name)
      writer = metrics_lib.MetricsWriter(workdir, tensorboard=False)
      for frames in range(0, 1000, 100):
        writer.write({"frames": frames, "l2": 0.3 - slope * frames / 100})
      writer.close()
      runs.append(workdir)
    path = os.path.join(self.create_tempdir().full_path, "fig8.png")
    series = figures.compare_runs(runs, path)
    self.assertEqual(sorted(series), ["d_reward", "l2_reward"])
    self.assertAlmostEqual(series["d_reward"][1][-1], 0.3 - 0.02 * 9)
    with Image.open(path) as image:
      pixels = np.asarray(image.convert("RGB"))
    for colour in pictures.COLOURS[:2]:  # both curves were drawn
      self.assertTrue(np.any(np.all(pixels == colour, axis=-1)))
    # Up to 500 frames, each point the mean of the last 3 logged values (fewer at the start).
    series = figures.compare_runs(runs, path, max_frames=500, smooth=3)
    frames, l2 = series["l2_reward"]
    self.assertEqual(frames, [0, 100, 200, 300, 400, 500])
    np.testing.assert_allclose(l2, [0.3, 0.295, 0.29, 0.28, 0.27, 0.26])
    with self.assertRaisesRegex(FileNotFoundError, "no metrics.jsonl"):
      figures.compare_runs([self.create_tempdir().full_path], path)
