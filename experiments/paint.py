"""Paints your image with a trained conditional agent: PNG, SVG, GIF and the program; or samples
of an unconditional one.

  spiral-jax paint --agent=mnist_small --image=digit.png               # a shipped agent, no training
  spiral-jax paint --agent=omniglot --held_out=7                       # its 8th held-out drawing
  spiral-jax paint --agent=mnist_unconditional --samples=64            # an unconditional agent
  spiral-jax paint --agent=mujoco_scenes --image=scene.png             # a MuJoCo scene agent
  python -m experiments.paint --workdir=outputs/train --image=digit.png --out_dir=outputs/paint

The image is converted to the canvas's mode (grey or colour), centre-cropped to a square and
resized to the canvas. Dark ink on light paper works best (that is what the agent saw). Writes in
--out_dir: painting.png (the canvas), painting_256.png (the strokes re-rendered at 256x256),
painting.svg, painting.gif (one frame per step), trace.png (input | render | re-render | each
stroke in its own colour) and program.json. With --samples=N (an unconditional agent): samples.png,
samples_256.png (the first 16 re-rendered), and sample_NNN.json / .svg.
A MuJoCo Scenes agent writes the scene program instead: program.json (its objects; re-render it
with `spiral-jax render --program=program.json --size=512`), scene.png (the render at canvas size),
scene_256.png (the program rendered afresh at --big_size) and comparison.png (target | render).
"""

import os

from absl import app
from absl import flags
from absl import logging
import jax
import numpy as np

from environments import libmypaint
from environments import programs
from experiments import figures
from experiments import setups
from spiral_jax import evaluation
from spiral_jax import pictures
from spiral_jax import training
from spiral_jax.data import images as images_lib

FLAGS = flags.FLAGS
flags.DEFINE_string("agent", None, "A shipped agent (spiral-jax agents lists them) or an agent "
                    "file.")
flags.DEFINE_string("workdir", None, "A training run's directory (default outputs/train when no "
                    "--agent is given).")
flags.DEFINE_string("image", None, "The image file to paint.")
flags.DEFINE_string("out_dir", "outputs/paint", "Where the results go.")
flags.DEFINE_integer("big_size", 256, "Size of the re-render.")
flags.DEFINE_integer("held_out", None, "Paint the agent's N-th held-out target (a shipped agent: "
                     "from the shipped sample) instead of --image.")
flags.DEFINE_integer("samples", 0, "An unconditional agent: paint this many samples (no --image).")
flags.DEFINE_integer("sampling_seed", 0, "The samples' seed (with --samples).")


def load_image(path, size, channels):
  """An image file as float32 (size, size, channels) in [0, 1]; one clear error if unreadable."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f"No image file at {path!r}.")
  return images_lib.image_folder_image(path, size, channels == 1)


def held_out_target(workdir, index, agent=None):
  """The agent's `index`-th held-out target image (as `spiral-jax evaluate` measures it)."""
  config, _, _ = setups.load_agent(agent, workdir)
  setups.choose_targets(config, bool(agent), limit=index + 1)
  images = setups.make_setup(config, in_memory=True).images
  if index >= len(images):
    raise ValueError(f"--held_out={index}: the held-out split has {len(images)} images.")
  return images.first(index + 1)[index]


def _built(config):
  """(Setup without data, Policy) of an agent's config."""
  setup = setups.make_setup(config, load_data=False)
  policy, _, _ = training.build_agent(config, setup)
  return setup, policy


def _greedy_pass(setup, policy, params, target):
  """The agent's greedy episode on one target (H, W, C): (final canvas, its actions)."""
  renders, actions = evaluation.reconstruct_dm_env(setup.env_factory, policy, params,
                                                   target[None], jax.random.PRNGKey(0),
                                                   greedy=True)
  return renders[0], actions[0]


def _painting_agent(config):
  """(PaintConfig, Setup with libmypaint, Policy) of a painting agent's config."""
  if config.env.name not in ("jax_paint", "libmypaint"):
    raise ValueError(f"The agent painted with {config.env.name!r}, not a painting environment.")
  config.env.name = "libmypaint"
  setup, policy = _built(config)
  return setups.paint_config(config.env), setup, policy


def paint(workdir, image_path, out_dir, big_size=256, agent=None, target=None):
  """Paints the image file (or the `target` image, float (H, W, C) at canvas size) with a run's
  agent (workdir) or a shipped one (agent); returns the Program (a SceneProgram for a MuJoCo
  Scenes agent)."""
  config, params, _ = setups.load_agent(agent, workdir)
  if config.env.name == "mujoco_scenes":
    return _paint_scene(config, params, image_path, out_dir, big_size, target)
  paint_config, setup, policy = _painting_agent(config)
  if not policy.conditional:
    raise ValueError("This run's agent is unconditional: it cannot paint a given image; paint "
                     "samples with --samples=64 instead of --image.")
  if target is None:
    target = load_image(image_path, paint_config.canvas_size, paint_config.channels)
  render, actions = _greedy_pass(setup, policy, params, target)
  program = programs.Program(paint_config, evaluation.episode_steps(actions))
  os.makedirs(out_dir, exist_ok=True)
  out = lambda name: os.path.join(out_dir, name)
  pictures.save_png(pictures.to_uint8(render), out("painting.png"))
  pictures.save_png(pictures.to_uint8(libmypaint.render_program(program, big_size)),
                    out("painting_256.png"))
  program.save(out("program.json"))
  program.save_svg(out("painting.svg"), size=big_size)
  figures.save_gif(figures.episode_frames(program), out("painting.gif"))
  pictures.save_png(figures.stroke_trace(program, target, big_size), out("trace.png"))
  return program


def _paint_scene(config, params, image_path, out_dir, big_size=256, target=None):
  """Rebuilds the scene in the image file (or `target`) with a MuJoCo Scenes agent (its config
  and parameters), in one pass: writes program.json, scene.png, scene_256.png and comparison.png;
  returns the SceneProgram."""
  from environments import mujoco_render  # pylint: disable=import-outside-toplevel
  setup, policy = _built(config)
  scene = setups.scene_config(config.env)
  if target is None:
    target = load_image(image_path, scene.canvas_size, 3)
  render, actions = _greedy_pass(setup, policy, params, target)
  program = programs.SceneProgram(scene, evaluation.episode_steps(actions))
  os.makedirs(out_dir, exist_ok=True)
  out = lambda name: os.path.join(out_dir, name)
  program.save(out("program.json"))
  pictures.save_png(pictures.to_uint8(render), out("scene.png"))
  pictures.save_png(pictures.to_uint8(mujoco_render.render_program(program, big_size)),
                    out("scene_256.png"))
  pictures.save_png(pictures.reconstructions(target[None], render[None], scale=4),
                    out("comparison.png"))
  return program


def paint_samples(workdir, num, out_dir, big_size=256, agent=None, seed=0):
  """Paints `num` samples with an unconditional agent (libmypaint): samples.png (a grid at canvas
  size), samples_256.png (the first 16 re-rendered at big_size), and each sample's program
  (sample_NNN.json) and SVG. Returns the Programs."""
  config, params, _ = setups.load_agent(agent, workdir)
  paint_config, setup, policy = _painting_agent(config)
  if policy.conditional:
    raise ValueError("This agent is conditional: give it an image to paint (--image), not "
                     "--samples.")
  renders, actions = evaluation.sample_dm_env(setup.env_factory, policy, params, num,
                                              jax.random.PRNGKey(seed))
  programs_ = [programs.Program(paint_config, evaluation.episode_steps(a)) for a in actions]
  os.makedirs(out_dir, exist_ok=True)
  out = lambda name: os.path.join(out_dir, name)
  pictures.save_png(pictures.grid(renders, 8, scale=2), out("samples.png"))
  big = np.stack([libmypaint.render_program(p, big_size) for p in programs_[:16]])
  pictures.save_png(pictures.grid(big, 4), out("samples_256.png"))
  for i, program in enumerate(programs_):
    program.save(out(f"sample_{i:03d}.json"))
    program.save_svg(out(f"sample_{i:03d}.svg"), size=big_size)
  return programs_


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  workdir = FLAGS.workdir or (None if FLAGS.agent else "outputs/train")
  if FLAGS.samples:
    painted = paint_samples(workdir, FLAGS.samples, FLAGS.out_dir, FLAGS.big_size, FLAGS.agent,
                            FLAGS.sampling_seed)
    print(f"Painted {len(painted)} samples: {FLAGS.out_dir}/samples.png, samples_256.png, "
          "sample_NNN.json and .svg")
    return
  target = None
  if FLAGS.held_out is not None:
    target = held_out_target(workdir, FLAGS.held_out, FLAGS.agent)
  elif not FLAGS.image:
    raise app.UsageError("Give the image to paint (--image=PATH or --held_out=N), or --samples=N "
                         "for an unconditional agent.")
  program = paint(workdir, FLAGS.image, FLAGS.out_dir, FLAGS.big_size, FLAGS.agent, target)
  what = FLAGS.image if target is None else f"held-out target {FLAGS.held_out}"
  if isinstance(program, programs.SceneProgram):
    print(f"Rebuilt {what} with {len(program.objects)} objects: {FLAGS.out_dir}/program.json, "
          "scene.png, scene_256.png, comparison.png")
    return
  print(f"Painted {what} in {sum(a['flag'] for a in program.actions)} strokes: "
        f"{FLAGS.out_dir}/painting.png, painting.svg, painting.gif, trace.png, program.json")


if __name__ == "__main__":
  app.run(main)
