"""Made-up colour portraits: targets for agents whose own data (CelebA) ships no sample."""

import os

import numpy as np
from PIL import Image, ImageDraw


def portraits(directory, n, seed=0):
  """n face-like colour pictures (a coloured background, dark hair, a skin-toned face): targets
  for an agent whose own data (CelebA) ships no sample."""
  rng = np.random.default_rng(seed)
  for i in range(n):
    image = Image.new("RGB", (64, 64), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    skin = tuple(int(v) for v in np.array([225, 180, 150]) * rng.uniform(0.6, 1.05))
    draw.ellipse((12, 4, 52, 50), fill=tuple(int(v) for v in rng.integers(0, 120, 3)))
    draw.ellipse((18, 12, 46, 52), fill=skin)
    draw.rectangle((24, 50, 40, 64), fill=skin)
    image.save(os.path.join(directory, f"portrait_{i:03d}.png"))
  return directory
