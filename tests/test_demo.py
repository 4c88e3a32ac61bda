"""The README's main job (for now, the painting demo) writes what it says it writes."""

import json
import pathlib
import subprocess
import sys

from absl.testing import absltest
import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]


class DemoTest(absltest.TestCase):

  def test_demo_writes_pngs_and_programs(self):
    out = pathlib.Path(self.create_tempdir().full_path)
    subprocess.run([sys.executable, "-m", "experiments.demo", f"--out_dir={out}",
                    "--num_random=1", "--seed=3"], cwd=ROOT, check=True, capture_output=True)
    for name in ("smiley", "house", "spiral", "random_0"):
      small = np.asarray(Image.open(out / f"{name}_64.png"))
      big = np.asarray(Image.open(out / f"{name}_256.png"))
      self.assertEqual(small.shape, (64, 64, 3))
      self.assertEqual(big.shape, (256, 256, 3))
      self.assertLess(small.min(), 128, f"{name} painted nothing")
      # The re-render is the same picture: downsampled, it matches the episode's canvas.
      shrunk = big.reshape(64, 4, 64, 4, 3).mean(axis=(1, 3))
      self.assertLess(np.abs(shrunk - small).mean(), 8.0, name)
      program = json.loads((out / f"{name}.json").read_text())
      self.assertEqual(program["config"]["canvas_size"], 64)
    smiley = np.asarray(Image.open(out / "smiley_64.png")).astype(int)
    orange = (smiley[..., 0] > 200) & (smiley[..., 1] > 100) & (smiley[..., 1] < 200) & (
        smiley[..., 2] < 60)
    self.assertGreater(orange.sum(), 300)
    self.assertEqual(Image.open(out / "sheet.png").size, (4 * 260 - 4, 516))


if __name__ == "__main__":
  absltest.main()
