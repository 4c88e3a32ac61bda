"""How closely a program's SVG, rendered by a real SVG library (cairo), matches its libmypaint
painting: mean absolute difference per pixel on the shipped agents' greedy paintings of the
shipped test images (MNIST digits, Omniglot drawings), at canvas size and at 256x256.

  python benchmarks/svg_fidelity.py [--num_images 8]

The last line printed is one JSON object.
"""

import argparse
import io
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cairosvg  # pylint: disable=wrong-import-position
import jax  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
from PIL import Image  # pylint: disable=wrong-import-position

from environments import libmypaint  # pylint: disable=wrong-import-position
from environments import programs  # pylint: disable=wrong-import-position
from experiments import setups  # pylint: disable=wrong-import-position
from spiral_jax import evaluation  # pylint: disable=wrong-import-position
from spiral_jax import pretrained  # pylint: disable=wrong-import-position
from spiral_jax import training  # pylint: disable=wrong-import-position


def svg_pixels(svg, size):
  png = cairosvg.svg2png(bytestring=svg.encode(), output_width=size, output_height=size)
  return np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float32) / 255.0


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--num_images", type=int, default=8)
  args = parser.parse_args()
  out = {"num_images": args.num_images}
  for name in pretrained.names():
    agent = pretrained.load(name)
    if not agent.config.conditional:
      continue  # an unconditional agent has no targets to reconstruct
    if setups.own_dataset(agent.config.data["name"]) not in setups.SAMPLES:
      continue  # no shipped test images for it (CelebA: the user's own data)
    config, params, _ = setups.load_agent(name, None)
    setups.choose_targets(config, True, renderer="libmypaint", limit=args.num_images)
    setup = setups.make_setup(config, in_memory=True)
    policy, _, _ = training.build_agent(config, setup)
    targets = setup.images.first(args.num_images)
    renders, actions = evaluation.reconstruct_dm_env(setup.env_factory, policy, params, targets,
                                                     jax.random.PRNGKey(0), greedy=True)
    paint_config = setups.paint_config(config.env)
    small, big = [], []
    for render, episode in zip(renders, actions):
      program = programs.Program(paint_config, evaluation.episode_steps(episode))
      size = paint_config.canvas_size
      small.append(np.abs(svg_pixels(program.to_svg(), size) - render[..., 0]).mean())
      big.append(np.abs(svg_pixels(program.to_svg(size=256), 256)
                        - libmypaint.render_program(program, 256)[..., 0]).mean())
    out[f"{name}_mad_canvas"] = round(float(np.mean(small)), 4)
    out[f"{name}_mad_256"] = round(float(np.mean(big)), 4)
  print(json.dumps(out))


if __name__ == "__main__":
  main()
