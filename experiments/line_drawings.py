"""Line drawings from outside Omniglot, made by code, for the `omniglot` agent's out-of-domain
figure (paper section 4.4: the Omniglot agent redraws line drawings it never saw).

  python -m experiments.line_drawings --out_dir=outputs/line_drawings
  spiral-jax evaluate --agent=omniglot --dataset=folder --data_dir=outputs/line_drawings/shapes

Writes black-on-white 105x105 PNGs (Omniglot's size and its pen's width) in three folders:
  shapes/   outlines: circles, ellipses, polygons, stars, zigzags, spirals, crosses, arrows, at
            random places, sizes and angles;
  letters/  Latin letters and digits in DejaVu Sans (the font the bootstrap installs);
  digits/   MNIST test digits from the shipped sample, inverted to dark ink on white.
The drawings are a function of --seed. The last line is one JSON object: how many of each.
"""

import json
import math
import os

from absl import app
from absl import flags
import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

from spiral_jax.data import images

SIZE = 105  # Omniglot's drawings
PEN = 5  # pixels: the median width of Omniglot's strokes at 105x105
KINDS = ("shapes", "letters", "digits")
GLYPHS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

FLAGS = flags.FLAGS


def _outline(rng):
  """The points of one random outline shape (a closed or open polyline), in pixels."""
  centre = rng.uniform(0.4, 0.6, 2) * SIZE
  radius = rng.uniform(0.22, 0.38) * SIZE
  angle = rng.uniform(0, 2 * math.pi)
  kind = rng.choice(["circle", "ellipse", "polygon", "star", "zigzag", "spiral", "cross",
                     "arrow"])
  if kind == "circle":
    t = np.linspace(0, 2 * math.pi, 64)
    points = np.stack([np.cos(t), np.sin(t)], 1)
  elif kind == "ellipse":
    t = np.linspace(0, 2 * math.pi, 64)
    points = np.stack([np.cos(t), rng.uniform(0.4, 0.7) * np.sin(t)], 1)
  elif kind == "polygon":
    t = np.linspace(0, 2 * math.pi, rng.integers(3, 7) + 1)
    points = np.stack([np.cos(t), np.sin(t)], 1)
  elif kind == "star":
    n = rng.integers(5, 7)
    t = np.linspace(0, 2 * math.pi, 2 * n + 1)
    r = np.where(np.arange(2 * n + 1) % 2 == 0, 1.0, 0.45)
    points = np.stack([r * np.cos(t), r * np.sin(t)], 1)
  elif kind == "zigzag":
    n = rng.integers(3, 6)
    x = np.linspace(-1, 1, n + 1)
    points = np.stack([x, np.where(np.arange(n + 1) % 2 == 0, -0.5, 0.5)], 1)
  elif kind == "spiral":
    t = np.linspace(0, 4 * math.pi, 96)
    points = np.stack([t * np.cos(t), t * np.sin(t)], 1) / (4 * math.pi)
  elif kind == "cross":
    return [(_place(np.array([[-1, 0], [1, 0]]), centre, radius, angle)),
            (_place(np.array([[0, -1], [0, 1]]), centre, radius, angle))]
  else:  # arrow
    return [_place(np.array([[-1, 0], [1, 0]]), centre, radius, angle),
            _place(np.array([[0.5, -0.4], [1, 0], [0.5, 0.4]]), centre, radius, angle)]
  return [_place(points, centre, radius, angle)]


def _place(points, centre, radius, angle):
  rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
  return [tuple(p) for p in (points @ rotation.T) * radius + centre]


def shape(rng):
  image = Image.new("L", (SIZE, SIZE), 255)
  draw = ImageDraw.Draw(image)
  for line in _outline(rng):
    draw.line(line, fill=0, width=PEN, joint="curve")
  return image


def _font(size):
  try:
    return ImageFont.truetype("DejaVuSans.ttf", size)
  except OSError:
    return ImageFont.load_default(size)


def letter(rng):
  image = Image.new("L", (SIZE, SIZE), 255)
  draw = ImageDraw.Draw(image)
  glyph = GLYPHS[rng.integers(len(GLYPHS))]
  font = _font(int(rng.integers(56, 76)))
  left, top, right, bottom = draw.textbbox((0, 0), glyph, font=font)
  draw.text(((SIZE - (right - left)) / 2 - left, (SIZE - (bottom - top)) / 2 - top), glyph,
            fill=0, font=font)
  return image


def digits(n):
  """The first n shipped MNIST test digits, dark ink on white paper, at 105x105."""
  raw, _ = images.mnist_sample("test")
  return [Image.fromarray(255 - d).resize((SIZE, SIZE), Image.BILINEAR) for d in raw[:n]]


def write(out_dir, num=64, seed=0):
  """Writes the three folders; returns {kind: count}."""
  rng = np.random.default_rng(seed)
  made = {"shapes": [shape(rng) for _ in range(num)],
          "letters": [letter(rng) for _ in range(num)],
          "digits": digits(num)}
  for kind, drawings in made.items():
    folder = os.path.join(out_dir, kind)
    os.makedirs(folder, exist_ok=True)
    for i, drawing in enumerate(drawings):
      drawing.save(os.path.join(folder, f"{kind}_{i:03d}.png"))
  return {kind: len(drawings) for kind, drawings in made.items()}


def main(argv):
  del argv
  counts = write(FLAGS.out_dir, FLAGS.num, FLAGS.seed)
  print(json.dumps(dict(counts, out_dir=FLAGS.out_dir)))


if __name__ == "__main__":  # flags defined here only: tests import the module beside others
  flags.DEFINE_string("out_dir", "outputs/line_drawings", "Where the three folders go.")
  flags.DEFINE_integer("num", 64, "Drawings of each kind.")
  flags.DEFINE_integer("seed", 0, "The drawings' seed.")
  app.run(main)
