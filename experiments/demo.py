"""Paints scripted and random stroke programs with libmypaint and saves them as PNGs.

Each program is painted by the 64x64 environment, then re-rendered from its recorded actions at
256x256. Writes <name>_64.png, <name>_256.png and <name>.json (the program) per program, and
sheet.png (all of them, 64x64 renders upscaled next to the 256x256 re-renders).

  python -m experiments.demo [--out_dir outputs/demo] [--num_random 4] [--seed 0]
"""

import os
import time

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from environments import libmypaint
from environments import paint_actions

FLAGS = flags.FLAGS
flags.DEFINE_string("out_dir", "outputs/demo", "Where to write the pictures and programs.")
flags.DEFINE_integer("num_random", 4, "How many random programs to paint.")
flags.DEFINE_integer("seed", 0, "Seed of the random programs.")
flags.DEFINE_integer("big_size", 256, "Canvas size of the re-renders.")

BLACK, RED, BLUE, GREEN, ORANGE, BROWN = ((0, 0, 0), (19, 2, 2), (2, 6, 19), (3, 15, 4),
                                          (19, 11, 0), (11, 6, 2))


def paint(end, control=None, size=2, pressure=7, rgb=BLACK):
  return {"flag": paint_actions.PAINT, "end": end, "control": end if control is None else control,
          "size": size, "pressure": pressure, "red": rgb[0], "green": rgb[1], "blue": rgb[2]}


def move(end):
  return dict(paint(end), flag=paint_actions.MOVE)


def smiley():
  face = [move((16, 3)), paint((29, 16), (29, 3), rgb=ORANGE), paint((16, 29), (29, 29), rgb=ORANGE),
          paint((3, 16), (3, 29), rgb=ORANGE), paint((16, 3), (3, 3), rgb=ORANGE)]
  eyes = [move((11, 9)), paint((11, 14), size=2, rgb=BLUE), move((21, 9)),
          paint((21, 14), size=2, rgb=BLUE)]
  mouth = [move((9, 19)), paint((23, 19), (16, 27), size=2, rgb=RED)]
  return face + eyes + mouth


def house():
  walls = [move((6, 28)), paint((6, 14), size=1), paint((26, 14), size=1),
           paint((26, 28), size=1), paint((6, 28), size=1)]
  roof = [move((4, 15)), paint((16, 4), size=2, rgb=RED), paint((28, 15), size=2, rgb=RED)]
  door = [move((14, 28)), paint((14, 21), size=1, rgb=BROWN), paint((18, 21), size=1, rgb=BROWN),
          paint((18, 28), size=1, rgb=BROWN)]
  grass = [move((0, 30)), paint((31, 30), (16, 29), size=2, pressure=9, rgb=GREEN)]
  return walls + roof + door + grass


def spiral():
  """A spiral of quarter turns whose radius grows each step, painted with rising pressure."""
  actions, centre = [move((16, 14))], np.array([16.0, 16.0])
  directions = [(1, 0), (0, 1), (-1, 0), (0, -1)]
  radius = 2.0
  for i in range(16):
    a, b = np.array(directions[i % 4], float), np.array(directions[(i + 1) % 4], float)
    end = np.clip(np.round(centre + b * radius), 0, 31).astype(int)
    control = np.clip(np.round(centre + (a + b) * radius), 0, 31).astype(int)
    actions.append(paint(tuple(end), tuple(control), size=1, pressure=min(9, 3 + i // 3),
                         rgb=(19 - i, 2 + i // 2, i)))
    radius += 0.9
  return actions


def random_program(env, rng):
  return [paint_actions.random_actions(env.action_spec(), rng)
          for _ in range(env.config.episode_length)]


def to_image(canvas):
  pixels = np.round(np.clip(canvas, 0.0, 1.0) * 255).astype(np.uint8)
  return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def main(argv):
  del argv
  os.makedirs(FLAGS.out_dir, exist_ok=True)
  rng = np.random.default_rng(FLAGS.seed)
  scripted = {"smiley": smiley(), "house": house(), "spiral": spiral()}
  jobs = [(name, actions) for name, actions in scripted.items()]
  env = libmypaint.LibMyPaint()
  jobs += [(f"random_{i}", random_program(env, rng)) for i in range(FLAGS.num_random)]

  rows = []
  start = time.perf_counter()
  for name, actions in jobs:
    env = libmypaint.LibMyPaint(episode_length=len(actions))
    env.reset()
    for action in actions:
      canvas = env.step(action).observation["canvas"]
    program = env.program
    big = libmypaint.render_program(program, canvas_size=FLAGS.big_size)
    small_image, big_image = to_image(canvas), to_image(big)
    small_image.save(os.path.join(FLAGS.out_dir, f"{name}_64.png"))
    big_image.save(os.path.join(FLAGS.out_dir, f"{name}_{FLAGS.big_size}.png"))
    program.save(os.path.join(FLAGS.out_dir, f"{name}.json"))
    rows.append((small_image.resize(big_image.size, Image.NEAREST), big_image))
    print(f"{name:10s} {len(actions):2d} actions -> {name}_64.png, {name}_{FLAGS.big_size}.png, "
          f"{name}.json")

  gap = 4
  size = FLAGS.big_size
  sheet = Image.new("RGB", (len(rows) * (size + gap) - gap, 2 * size + gap), "white")
  for i, (small, big) in enumerate(rows):
    sheet.paste(small, (i * (size + gap), 0))
    sheet.paste(big, (i * (size + gap), size + gap))
  sheet.save(os.path.join(FLAGS.out_dir, "sheet.png"))
  print(f"Painted {len(rows)} programs in {time.perf_counter() - start:.2f}s; contact sheet "
        f"(top: 64x64 episodes, bottom: {size}x{size} re-renders): "
        f"{os.path.join(FLAGS.out_dir, 'sheet.png')}")


if __name__ == "__main__":
  app.run(main)
