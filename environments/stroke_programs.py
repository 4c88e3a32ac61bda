"""Random stroke programs for behaviour cloning of painting agents (not in the paper).

A generated scene comes with the program that drew it; a photograph or a digit does not. But any
painting program drawn at random comes with its own: the policy can learn to write the program of
a picture that random strokes made (its target), stroke by stroke, on the canvas drawn so far, and
then paint pictures that no program drew. `sample(rng, config, n)` draws `n` programs shaped like
handwriting:

  * a few pen-down runs (1 to `max_runs`), each a move to a starting cell inside the canvas' middle
    (`margin` of the grid kept free at each side, as MNIST keeps its digits' borders) and then 1 to
    `max_run_strokes` quadratic strokes, each starting where the last ended and turning by a
    random angle (turned back at the middle's edge), 1/5 to 1/2.5 of the grid long, its control point off the chord by up to half its
    length;
  * one brush size and pressure per run (`size_weights`: the chances of the config's sizes;
    by default radii near 1/20 of the canvas, a pen's line in a handwritten digit), a colour per run on colour canvases;
  * the steps left after the runs are moves to where the brush already is: "stop painting".

What it returns is what cloning needs: (actions, weights, played). actions {component: int32
(n, T, ...)} the program; weights {component: float32 (n, T)}: 1 where the action uses the
component (a move uses only its flag and end, as `paint_actions.action_mask` says); played: the
actions the renderer is given: with `noise`, each stroke's end is, with that probability, one cell
off in a random direction (the next stroke starts from there), so that the policy learns to go on
from a canvas that is not exactly the target's prefix, as its own are.
"""

import numpy as np

from environments import paint_actions


def _size_weights(config, size_weights):
  radii = np.asarray(config.brush_sizes, np.float64)
  if size_weights is None:
    # radii near 1/20 of the canvas most (a pen's line in a handwritten digit): on the paper's
    # sizes (1, 2, 4, 8, 12, 24 px on 64x64) 2 px and 4 px carry 85%
    size_weights = np.exp(-0.5 * (np.log(radii * 20 / config.canvas_size) / 0.5) ** 2)
  size_weights = np.asarray(size_weights, np.float64)
  if size_weights.shape != radii.shape or np.any(size_weights < 0) or size_weights.sum() <= 0:
    raise ValueError(f"size_weights must be {len(radii)} non-negative numbers (one per brush "
                     f"size) with a positive sum, got {size_weights.tolist()}.")
  return size_weights / size_weights.sum()


def sample(rng, config, n, noise=0.0, max_runs=2, max_run_strokes=6, margin=0.15,
           size_weights=None):
  """`n` random programs of `config.episode_length` steps: (actions, weights, played)."""
  if not 0.0 <= noise <= 1.0:
    raise ValueError(f"noise is a probability in [0, 1], got {noise}.")
  if max_runs < 1 or max_run_strokes < 1:
    raise ValueError("max_runs and max_run_strokes must be at least 1.")
  if not 0.0 <= margin < 0.5:
    raise ValueError(f"margin is a share of the grid in [0, 0.5), got {margin}.")
  g, steps = config.grid_size, config.episode_length
  low, high = margin * (g - 1), (1 - margin) * (g - 1)
  sizes = _size_weights(config, size_weights)
  extra = [c for c in config.components if c not in ("flag", "end", "control", "size", "pressure")]
  spec = paint_actions.action_spec(config)
  bins = {c: spec[c].num_values for c in extra}
  _, move, paint = paint_actions.action_masks(config)  # the components each kind of action uses
  mask = lambda flag: paint if flag else move
  actions = {c: np.zeros((n, steps, 2) if c in paint_actions.LOCATION_COMPONENTS else (n, steps),
                         np.int32) for c in config.components}
  weights = {c: np.zeros((n, steps), np.float32) for c in config.components}
  played = {c: v.copy() for c, v in actions.items()}
  clip = lambda p: np.clip(np.rint(p), 0, g - 1).astype(np.int32)
  for i in range(n):
    t, here = 0, np.zeros(2)
    for _ in range(int(rng.integers(1, max_runs + 1))):
      if t + 2 > steps:
        break
      here = rng.uniform(low, high, size=2)
      _write(actions, weights, mask, i, t, flag=0, end=clip(here))
      _write(played, None, mask, i, t, flag=0, end=clip(here))
      t += 1
      size, pressure = rng.choice(len(sizes), p=sizes), rng.integers(config.pressure_levels // 2,
                                                                     config.pressure_levels)
      other = {c: int(rng.integers(bins[c])) for c in extra}
      heading = rng.uniform(0, 2 * np.pi)
      for _ in range(int(rng.integers(1, max_run_strokes + 1))):
        if t >= steps:
          break
        length = rng.uniform(g / 5, g / 2.5)
        heading += rng.uniform(-np.pi / 2, np.pi / 2)
        direction = np.array([np.cos(heading), np.sin(heading)])
        end = here + length * direction
        # a stroke that would leave the middle turns back into it, as from a mirror
        outside = (end < low) | (end > high)
        end = np.clip(np.where(end < low, 2 * low - end, np.where(end > high, 2 * high - end, end)),
                      low, high)
        direction[outside] *= -1
        heading = np.arctan2(direction[1], direction[0])
        normal = np.array([-np.sin(heading), np.cos(heading)])
        control = (here + end) / 2 + normal * rng.uniform(-0.5, 0.5) * length
        stroke = dict(flag=1, end=clip(end), control=clip(control), size=size, pressure=pressure,
                      **other)
        _write(actions, weights, mask, i, t, **stroke)
        if rng.random() < noise:
          stroke["end"] = clip(end + np.array([(1, 0), (-1, 0), (0, 1), (0, -1)][rng.integers(4)]))
        _write(played, None, mask, i, t, **stroke)
        here, t = end, t + 1
    # the rest: stay where the brush is (the played brush, which may be a cell off)
    for t in range(t, steps):
      _write(actions, weights, mask, i, t, flag=0, end=clip(here))
      _write(played, None, mask, i, t, flag=0, end=played["end"][i, t - 1] if t else clip(here))
  return actions, weights, played


def _write(actions, weights, mask, i, t, **values):
  """Step t of program i: the given components' values and, where `weights` is given, the
  weights `mask(flag)` gives (1 for each component that kind of action uses)."""
  for name, value in values.items():
    actions[name][i, t] = value
  if weights is not None:
    for name, used in mask(values["flag"]).items():
      weights[name][i, t] = used
