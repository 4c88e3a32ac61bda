"""Metrics files: JSONL, CSV and TensorBoard event records; pictures."""

import csv
import os
import struct

from absl.testing import absltest
import numpy as np
from PIL import Image

from spiral_jax import metrics
from spiral_jax import pictures


class MetricsTest(absltest.TestCase):

  def test_crc32c_known_value(self):
    self.assertEqual(metrics.crc32c(b"123456789"), 0xE3069283)  # the CRC-32C check value

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
    events = []
    for name in sorted(os.listdir(os.path.join(directory, "tensorboard"))):
      events += metrics.read_records(os.path.join(directory, "tensorboard", name))
    self.assertLen(events, 2 + 3)  # a file-version event per file, then one per record
    self.assertIn(b"brain.Event:2", events[0])
    # The l2 scalar of the last record: tag "l2", then field 2 (fixed32) holds the float.
    last = events[-1]
    at = last.index(b"\x0a\x02l2") + 4
    self.assertEqual(last[at], 0x15)
    self.assertAlmostEqual(struct.unpack("<f", last[at + 1:at + 5])[0], 0.125)

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

  def test_a_corrupt_event_record_is_detected(self):
    path = os.path.join(self.create_tempdir().full_path, "events")
    with open(path, "wb") as f:
      record = bytearray(metrics.record_bytes(metrics.event_bytes(1.0, 5, {"x": 1.0})))
      record[-6] ^= 0xFF
      f.write(bytes(record))
    with self.assertRaisesRegex(ValueError, "corrupt record"):
      metrics.read_records(path)


class PicturesTest(absltest.TestCase):

  def test_grid_and_curve(self):
    images = np.random.default_rng(0).uniform(size=(5, 8, 8, 1))
    image = pictures.grid(images, columns=3, scale=2, pad=1)
    self.assertEqual(image.shape, (2 * (2 * 9 + 1), 2 * (3 * 9 + 1), 3))
    pairs = pictures.reconstructions(images, images[::-1], pairs_per_row=2, scale=1)
    self.assertEqual(pairs.shape[1], 2 + 4 * 10)
    path = os.path.join(self.create_tempdir().full_path, "curve.png")
    pictures.learning_curve([0, 10, 20], [0.3, 0.2, 0.1], path, title="l2")
    with Image.open(path) as curve:
      self.assertEqual(curve.size, (640, 400))
      self.assertLess(np.asarray(curve).min(), 100)  # something was drawn


if __name__ == "__main__":
  absltest.main()
