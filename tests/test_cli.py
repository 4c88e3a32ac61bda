"""The `spiral-jax` command and its subcommands, run as a user would, on a tiny trained agent."""

import json
import os
import subprocess
import tempfile
import sys
import xml.etree.ElementTree as ET

from absl.testing import absltest
import numpy as np
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(os.path.dirname(sys.executable), "spiral-jax")
TINY = ["--config.max_minutes=0", "--config.max_updates=2", "--config.progress=False",
        "--config.learner.batch_size=8", "--config.env.kwargs.canvas_size=16",
        "--config.env.kwargs.grid_size=4", "--config.env.kwargs.episode_length=3",
        "--config.imitation.updates=0"]  # SPIRAL alone: the shipped programs are for 32x32


def spiral_jax(*args):
  return subprocess.run([CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


class CliTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = absltest.get_default_test_tmpdir()
    cls.workdir = os.path.join(cls.tmp, "run")
    result = spiral_jax("train", f"--workdir={cls.workdir}", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    cls.train_output = result.stdout

  def test_help_and_unknown_commands(self):
    result = spiral_jax("--help")
    self.assertEqual(result.returncode, 0)
    self.assertIn("paint", result.stderr)
    result = spiral_jax("paintt")
    self.assertEqual(result.returncode, 2)
    self.assertIn("Unknown command 'paintt'", result.stderr)

  def test_each_command_lists_its_own_flags(self):
    for command, flag in [("paint", "--image"), ("train", "--resume"), ("evaluate", "--num_images"),
                          ("render", "--program")]:
      result = spiral_jax(command, "--help")
      self.assertEqual(result.returncode, 0, result.stderr)
      self.assertIn(f"usage: spiral-jax {command}", result.stdout)
      self.assertIn(flag, result.stdout)
      self.assertNotIn("--helpfull to get a list", result.stdout)

  def test_train_printed_a_summary_and_left_a_checkpoint(self):
    summary = json.loads(self.train_output.strip().splitlines()[-1])
    self.assertEqual(summary["updates"], 2)
    self.assertTrue(os.path.isdir(os.path.join(self.workdir, "checkpoints", "2")))

  def test_evaluate(self):
    output = os.path.join(self.tmp, "evaluation.json")
    result = spiral_jax("evaluate", f"--workdir={self.workdir}", "--num_images=16",
                        f"--output={output}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    with open(output) as f:
      summary = json.load(f)
    self.assertEqual(summary["num_images"], 16)
    self.assertGreater(summary["l2_ci95"], 0.0)

  def test_paint_then_render(self):
    image_path = os.path.join(self.tmp, "seven.png")
    image = Image.new("L", (40, 30), 255)
    ImageDraw.Draw(image).line([(8, 5), (30, 5), (15, 28)], fill=0, width=4)
    image.save(image_path)
    out_dir = os.path.join(self.tmp, "painted")
    result = spiral_jax("paint", f"--workdir={self.workdir}", f"--image={image_path}",
                        f"--out_dir={out_dir}", "--big_size=64")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    with Image.open(os.path.join(out_dir, "painting.gif")) as gif:
      self.assertEqual(gif.n_frames, 3 + 1)  # blank paper, then one frame per step
    with Image.open(os.path.join(out_dir, "painting.png")) as png:
      self.assertEqual(png.size, (16, 16))
    with Image.open(os.path.join(out_dir, "trace.png")) as trace:
      self.assertEqual(trace.size[1], 64)
    self.assertEqual(ET.parse(os.path.join(out_dir, "painting.svg")).getroot().get("width"), "64")
    big = os.path.join(self.tmp, "big.png")
    result = spiral_jax("render", f"--program={os.path.join(out_dir, 'program.json')}",
                        "--size=48", f"--out={big}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    with Image.open(big) as rendered:
      self.assertEqual(rendered.size, (48, 48))
      self.assertGreater(np.asarray(rendered).min(), -1)

  def test_paint_refuses_a_file_that_is_not_an_image(self):
    bad = os.path.join(self.tmp, "notes.png")
    with open(bad, "w") as f:
      f.write("not an image")
    result = spiral_jax("paint", f"--workdir={self.workdir}", f"--image={bad}")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("Cannot read image", result.stderr)

  def test_a_directory_that_is_not_a_run_is_one_line_and_left_as_it_was(self):
    image_path = os.path.join(self.tmp, "white.png")
    Image.new("L", (16, 16), 255).save(image_path)
    for command, extra in (("evaluate", "--num_images=4"), ("paint", f"--image={image_path}")):
      nowhere = tempfile.mkdtemp(dir=self.tmp)
      result = spiral_jax(command, f"--workdir={nowhere}", extra)
      self.assertNotEqual(result.returncode, 0)
      self.assertIn("not a training run", result.stderr, result.stderr[-2000:])
      self.assertNotIn("Traceback", result.stderr)
      self.assertEqual(os.listdir(nowhere), [])  # no checkpoints/ made

  def test_a_source_that_does_not_fit_is_one_line_and_writes_nothing(self):
    workdir = os.path.join(self.tmp, "narrower")
    result = spiral_jax("train", f"--workdir={workdir}", f"--config.init_from={self.workdir}",
                        "--config.policy.lstm_size=8", *TINY)
    self.assertNotEqual(result.returncode, 0)
    self.assertRegex(result.stderr, "does not fit this run's networks.*only grows.*lstm_size")
    self.assertNotIn("Traceback", result.stderr)
    self.assertFalse(os.path.exists(workdir))


if __name__ == "__main__":
  absltest.main()
