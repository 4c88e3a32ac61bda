"""Figures of painting programs (paper Fig. 6): stroke traces and animated episodes.

  stroke_trace(program, target)  input | 64x64 render | 256x256 re-render | each stroke in its
                                 own colour, as one RGB uint8 image
  episode_frames(program)        the canvas after each action (the first frame: blank paper)
  save_gif(frames, path)         an animated GIF, one frame per step
  compare_runs(workdirs, path)   l2 against frames for several training runs (paper Fig. 8)
  scene_grid(n, columns)         the first n held-out MuJoCo Scenes, as one image

  python -m experiments.figures --compare=runs/d_reward,runs/l2_reward --out=fig8.png
  python -m experiments.figures --scenes=32 --out=docs/mujoco_scenes.png
"""

import colorsys
import dataclasses
import os

import numpy as np
from PIL import Image

from absl import app
from absl import flags

from environments import libmypaint
from environments import paint_actions
from environments import programs
from spiral_jax import metrics as metrics_lib
from spiral_jax import pictures

FLAGS = flags.FLAGS
flags.DEFINE_list("compare", None, "Training run directories whose curves to plot together.")
flags.DEFINE_string("metric", "l2", "The metric to plot against frames.")
flags.DEFINE_string("out", "curves.png", "The PNG to write.")
flags.DEFINE_list("labels", None, "The curves' names (default: the runs' directory names).")
flags.DEFINE_integer("max_frames", 0, "Plot each run up to this many frames (0: all).")
flags.DEFINE_integer("smooth", 0, "Draw over the raw values the mean of the last this many "
                     "logged values (0: about a twentieth of each run's values).")
flags.DEFINE_integer("scenes", 0, "Draw this many generated MuJoCo Scenes (test split) instead.")


def stroke_palette(n):
  """n clearly different colours (evenly spaced hues)."""
  return [colorsys.hsv_to_rgb(i / max(n, 1), 0.85, 0.9) for i in range(n)]


def coloured_strokes(program):
  """The same program in colour with each painted stroke in its own palette colour (quantised to
  the colour bins), for a trace of which stroke painted what."""
  config = dataclasses.replace(program.config, grayscale=False)
  levels = paint_actions.colour_levels(config)
  strokes = [i for i, a in enumerate(program.actions) if a["flag"] == paint_actions.PAINT]
  palette = dict(zip(strokes, stroke_palette(len(strokes))))
  actions = []
  for i, action in enumerate(program.actions):
    action = dict(action)
    rgb = palette.get(i, (0.0, 0.0, 0.0))
    for name, value in zip(paint_actions.COLOUR_COMPONENTS, rgb):
      action[name] = int(np.argmin(np.abs(levels - value)))
    actions.append(action)
  return programs.Program(config, actions)


def _rgb(image, size):
  image = pictures.to_uint8(image)
  if image.shape[0] != size:
    image = np.asarray(Image.fromarray(image).resize((size, size), Image.NEAREST))
  return image


def stroke_trace(program, target=None, big_size=256, pad=4):
  """Fig. 6 as one image: [target |] render | re-render at big_size | coloured strokes."""
  small = libmypaint.render_program(program)
  big = libmypaint.render_program(program, canvas_size=big_size)
  trace = libmypaint.render_program(coloured_strokes(program), canvas_size=big_size)
  panels = ([] if target is None else [target]) + [small, big, trace]
  panels = [_rgb(p, big_size) for p in panels]
  gap = np.full((big_size, pad, 3), 255, np.uint8)
  row = [panels[0]]
  for panel in panels[1:]:
    row += [gap, panel]
  return np.concatenate(row, axis=1)


def episode_frames(program, scale=4, bar=4):
  """The canvas before any action and after each one, as uint8 RGB frames (scaled up), each with
  a `bar`-pixel progress bar below it. The bar makes every frame differ from the one before, so
  a GIF keeps one frame per step even when a step paints nothing (GIF writers merge identical
  consecutive frames)."""
  env = libmypaint.LibMyPaint.from_config(program.config)
  timestep = env.reset()
  frames = [timestep.observation["canvas"]]
  for action in program.actions:
    frames.append(env.step(action).observation["canvas"])
  env.close()
  size = program.config.canvas_size * scale
  out = []
  for step, frame in enumerate(frames):
    progress = np.full((bar, size, 3), 255, np.uint8)
    progress[:, :int(round(size * step / max(len(frames) - 1, 1)))] = 96
    out.append(np.concatenate([_rgb(frame, size), progress], axis=0))
  return out


def save_gif(frames, path, frame_ms=250):
  """An animated GIF (looping), written atomically; the last frame is held for a second."""
  images = [Image.fromarray(frame) for frame in frames]
  durations = [frame_ms] * (len(images) - 1) + [1000]
  pictures.save_image(images[0], path, ".gif", save_all=True, append_images=images[1:],
                      duration=durations, loop=0, optimize=False, disposal=1)


def compare_runs(workdirs, path, metric="l2", labels=None, max_frames=0, smooth=0):
  """One PNG of `metric` against frames, and against wall time, for each run (its
  metrics.jsonl), up to `max_frames` (0: all): the raw values faint, and over them each value the
  mean of the last `smooth` logged values (0: about a twentieth of the run's values). Returns
  {label: (frames, smoothed values)}."""
  if smooth < 0:
    raise ValueError(f"smooth must be at least 0 (0: automatic), not {smooth}.")
  series, plotted = {}, {}
  for i, workdir in enumerate(workdirs):
    metrics_path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(metrics_path):
      raise FileNotFoundError(f"{workdir} has no metrics.jsonl: is it a training run's workdir?")
    records = [r for r in metrics_lib.read_jsonl(metrics_path) if r.get(metric) is not None]
    if not records:
      raise ValueError(f"{metrics_path} has no {metric!r} values.")
    if max_frames:
      records = [r for r in records if r["frames"] <= max_frames]
    label = labels[i] if labels else os.path.basename(os.path.normpath(workdir))
    frames, values = [r["frames"] for r in records], [r[metric] for r in records]
    window = smooth or max(1, len(values) // 20)
    series[label] = (frames, pictures.smoothed(values, window).tolist())
    seconds = [r.get("time_s") for r in records]
    plotted[label] = (frames, values) + ((seconds,) if None not in seconds else ())
  pictures.learning_curves(plotted, path, title=f"{metric} against frames and wall time",
                           y_label=metric, smooth=smooth or None)
  return series


def scene_grid(n, columns=8, scale=2):
  """The first n scenes of the MuJoCo Scenes test split as one RGB uint8 image."""
  from environments import mujoco_scenes_dataset  # pylint: disable=import-outside-toplevel
  images, _ = mujoco_scenes_dataset.generate(n, seed=mujoco_scenes_dataset.TEST_SEED)
  return pictures.grid(images.astype(np.float32) / 255.0, columns, scale=scale)


def main(argv):
  del argv
  if FLAGS.scenes:
    pictures.save_png(scene_grid(FLAGS.scenes), FLAGS.out)
    print(f"Wrote {FLAGS.out}")
    return
  if not FLAGS.compare:
    raise app.UsageError("Give the runs to compare: --compare=DIR1,DIR2, or --scenes=N.")
  if FLAGS.labels and len(FLAGS.labels) != len(FLAGS.compare):
    raise app.UsageError(f"--labels names {len(FLAGS.labels)} curves for "
                         f"{len(FLAGS.compare)} runs.")
  compare_runs(FLAGS.compare, FLAGS.out, FLAGS.metric, FLAGS.labels,
               max_frames=FLAGS.max_frames, smooth=FLAGS.smooth)
  print(f"Wrote {FLAGS.out}")


if __name__ == "__main__":
  app.run(main)
