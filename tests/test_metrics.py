"""Metrics files: JSONL, CSV and TensorBoard event records; pictures."""

import csv
import os
import subprocess
import sys

from absl.testing import absltest
import numpy as np
from PIL import Image

from spiral_jax import metrics
from spiral_jax import pictures

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def tensorboard_scalars(directory):
  """{tag: [(step, value)]} as TensorBoard itself reads them from an event-file directory."""
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=import-outside-toplevel
  accumulator = event_accumulator.EventAccumulator(directory, size_guidance={"scalars": 0})
  accumulator.Reload()
  return {tag: [(e.step, round(e.value, 6)) for e in accumulator.Scalars(tag)]
          for tag in accumulator.Tags()["scalars"]}


class MetricsTest(absltest.TestCase):

  def test_records_go_to_every_file_and_append_on_resume(self):
    directory = self.create_tempdir().full_path
    writer = metrics.MetricsWriter(directory)
    writer.write({"frames": 100, "l2": 0.5, "d_loss": float("nan")})
    writer.write({"frames": 200, "l2": 0.25, "d_loss": 1.0})
    writer.close()
    writer = metrics.MetricsWriter(directory)  # a resumed run
    writer.write({"frames": 300, "l2": 0.125, "d_loss": 2.0})
    writer.close()
    records = metrics.read_jsonl(os.path.join(directory, "metrics.jsonl"))
    self.assertEqual([r["l2"] for r in records], [0.5, 0.25, 0.125])
    self.assertIsNone(records[0]["d_loss"])  # NaN is written as null, keeping the JSON valid
    with open(os.path.join(directory, "metrics.csv")) as f:
      rows = list(csv.DictReader(f))
    self.assertEqual([float(r["frames"]) for r in rows], [100, 200, 300])
    # TensorBoard's own reader sees every scalar of both sessions at its frame count.
    scalars = tensorboard_scalars(os.path.join(directory, "tensorboard"))
    self.assertEqual(scalars["l2"], [(100, 0.5), (200, 0.25), (300, 0.125)])
    self.assertEqual(scalars["d_loss"], [(200, 1.0), (300, 2.0)])  # the NaN was left out

  def test_tensorboard_reads_the_event_files_of_runs_written_before(self):
    # Written by the project's own event writer, before tensorboardX wrote them.
    scalars = tensorboard_scalars(os.path.join(DATA, "tensorboard_v0"))
    self.assertEqual(scalars["l2"], [(100, 0.5), (200, 0.25), (300, 0.125)])
    self.assertEqual(scalars["d_loss"], [(100, -1.0), (200, -2.0), (300, -3.0)])

  def test_a_run_restarting_from_a_checkpoint_drops_what_it_logged_after_it(self):
    directory = self.create_tempdir().full_path
    writer = metrics.MetricsWriter(directory, tensorboard=False)
    for frames in (100, 200, 300, 400):
      writer.write({"frames": frames, "l2": frames / 1000})
    writer.close()
    writer = metrics.MetricsWriter(directory, tensorboard=False)  # resumed from frame 200
    writer.drop_after(200)
    writer.write({"frames": 300, "l2": 0.03})
    writer.close()
    records = metrics.read_jsonl(os.path.join(directory, "metrics.jsonl"))
    self.assertEqual([(r["frames"], r["l2"]) for r in records],
                     [(100, 0.1), (200, 0.2), (300, 0.03)])
    with open(os.path.join(directory, "metrics.csv")) as f:
      rows = list(csv.DictReader(f))
    self.assertEqual([(float(r["frames"]), float(r["l2"])) for r in rows],
                     [(100, 0.1), (200, 0.2), (300, 0.03)])
    writer = metrics.MetricsWriter(directory, tensorboard=False)  # a fresh run in the same place
    writer.drop_after(0)
    writer.write({"frames": 100, "l2": 0.5})
    writer.close()
    self.assertEqual([r["l2"] for r in metrics.read_jsonl(
        os.path.join(directory, "metrics.jsonl"))], [0.5])

  def test_a_killed_run_keeps_what_it_logged(self):
    directory = self.create_tempdir().full_path
    code = ("import os, sys; from spiral_jax import metrics; "
            "w = metrics.MetricsWriter(sys.argv[1]); "
            "w.write({'frames': 10, 'l2': 0.5}); w.write({'frames': 20, 'l2': 0.4}); "
            "os.kill(os.getpid(), 9)")
    subprocess.run([sys.executable, "-c", code, directory], check=False, timeout=120)
    self.assertEqual([r["l2"] for r in metrics.read_jsonl(
        os.path.join(directory, "metrics.jsonl"))], [0.5, 0.4])
    self.assertEqual(tensorboard_scalars(os.path.join(directory, "tensorboard"))["l2"],
                     [(10, 0.5), (20, 0.4)])


class PicturesTest(absltest.TestCase):

  def test_grid_and_curve(self):
    images = np.random.default_rng(0).uniform(size=(5, 8, 8, 1))
    image = pictures.grid(images, columns=3, scale=2, pad=1)
    self.assertEqual(image.shape, (2 * (2 * 9 + 1), 2 * (3 * 9 + 1), 3))
    pairs = pictures.reconstructions(images, images[::-1], pairs_per_row=2, scale=1)
    self.assertEqual(pairs.shape[1], 2 + 4 * 10)
    one = pictures.reconstructions(images[:1], images[:1], scale=1)  # one pair: two wide
    self.assertEqual(one.shape[1], 2 + 2 * 10)

  def test_smoothed_is_the_mean_of_the_last_values(self):
    np.testing.assert_allclose(pictures.smoothed([1, 2, 3, 4, 5], 3), [1, 1.5, 2, 3, 4])
    np.testing.assert_allclose(pictures.smoothed([1, 2], 1), [1, 2])
    with self.assertRaisesRegex(ValueError, "at least 1"):
      pictures.smoothed([1.0], 0)

  def test_curves_against_frames_and_wall_time(self):
    rng = np.random.default_rng(0)
    frames = np.arange(200) * 1000.0
    noisy = 0.1 + 0.02 * rng.standard_normal(200)
    path = os.path.join(self.create_tempdir().full_path, "curves.png")
    pictures.learning_curves({"a": (frames, noisy, frames / 500.0), "b": (frames, noisy / 2)},
                             path, title="l2", y_label="l2")
    with Image.open(path) as image:
      pixels = np.asarray(image.convert("RGB"))
    self.assertGreater(pixels.shape[1], pixels.shape[0] * 2)  # two panels side by side
    half = pixels.shape[1] // 2
    for colour, panels in ((pictures.COLOURS[0], (0, 1)), (pictures.COLOURS[1], (0,))):
      for panel in (0, 1):  # run b has no wall times: it is drawn against frames alone
        region = pixels[:, panel * half:(panel + 1) * half]
        drawn = np.any(np.all(np.abs(region.astype(int) - colour) <= 2, axis=-1))
        self.assertEqual(drawn, panel in panels, (colour, panel))
    # One run without wall times: a single panel.
    pictures.learning_curve([0, 10, 20], [0.3, 0.2, 0.1], path, title="l2")
    with Image.open(path) as curve:
      self.assertLess(curve.size[0], 2 * curve.size[1])
      self.assertLess(np.asarray(curve.convert("L")).min(), 100)  # something was drawn


if __name__ == "__main__":
  absltest.main()
