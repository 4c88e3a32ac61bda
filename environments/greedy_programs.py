"""Painting programs found by greedy search against the target picture: demonstrations for
behaviour cloning where there is no ink to trace, e.g. colour faces (not in the paper).

At each step the search draws random strokes (end, control point, brush size, pressure), some
from where the brush is and some after a move to a random cell (a move costs a step of its own),
and keeps the one that lowers the l2 to the target most per step spent; a few rounds of small
changes to the best so far follow. A stroke's colour is not searched: the canvas is linear in
it (c' = c + (k - c) a, `a` the stroke's opacity), so the colour that brings the painted pixels
closest to the target is, per channel, k = sum a (t - c (1 - a)) / sum a^2, rounded to the
nearest of the config's colour levels. Grey canvases paint black ink and have no colour to
choose. When no stroke helps, the program stays where it is ("stop painting") to the end.

With `straight`, every stroke is a straight line (its control point on its end) at full
pressure. On 64x64 faces that paints as close as free strokes (0.0192 against 0.0204 on 32
validation faces: the search has fewer ways to go wrong), and a policy that copies it has two
components it can predict instead of two that the search drew at random. (Cloned, it did not
paint better: docs/levers.md.)

`greedy_programs(images, config)` returns what `traced_programs.best_programs` returns, so its
programs are saved with `traced_programs.save` and cloned by `experiments.imitate --traced`.
The search is jitted and batched over pictures with the JAX renderer.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from environments import jax_paint
from environments import paint_actions


def _random_strokes(key, count, config, straight):
  """`count` random paint actions {component: (count, ...)}, colour components zero."""
  ks = jax.random.split(key, 4)
  g = config.grid_size
  return _stroke(
      jax.random.randint(ks[0], (count, 2), 0, g),
      jax.random.randint(ks[1], (count, 2), 0, g),
      jax.random.randint(ks[2], (count,), 0, len(config.brush_sizes)),
      jax.random.randint(ks[3], (count,), 0, config.pressure_levels), config, straight)


def _stroke(end, control, size, pressure, config, straight):
  """Paint actions; with `straight`, the control point on the end and full pressure."""
  if straight:
    control = end
    pressure = jnp.full_like(pressure, config.pressure_levels - 1)
  return _action(paint_actions.PAINT, end, control, size, pressure, config)


def _action(flag, end, control, size, pressure, config):
  out = {"flag": jnp.broadcast_to(jnp.asarray(flag, jnp.int32), size.shape), "end": end,
         "control": control, "size": size, "pressure": pressure}
  for c in config.components:
    if c in paint_actions.COLOUR_COMPONENTS:
      out[c] = jnp.zeros_like(size)
  return out


def _move(cell, config):
  """A move of the brush to a grid cell (x, y), painting nothing (the cell it is on: a stay)."""
  return _action(paint_actions.MOVE, cell, cell, jnp.int32(0), jnp.int32(0), config)


def _better(new, new_l2, old, old_l2):
  """(the better of two candidates, each a pytree with its l2; the lower l2)."""
  keep = new_l2 < old_l2
  return jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, old), jnp.minimum(new_l2, old_l2)


def _mutated(key, best, count, config, straight):
  """`count` small changes of one stroke: its end and control point moved by up to two cells,
  its size and pressure by up to one level."""
  ks = jax.random.split(key, 4)
  g = config.grid_size
  shift = lambda k, shape: jax.random.randint(k, shape, -2, 3)
  clip = lambda v, high: jnp.clip(v, 0, high)
  return _stroke(
      clip(best["end"][None] + shift(ks[0], (count, 2)), g - 1),
      clip(best["control"][None] + shift(ks[1], (count, 2)), g - 1),
      clip(best["size"][None] + jax.random.randint(ks[2], (count,), -1, 2),
           len(config.brush_sizes) - 1),
      clip(best["pressure"][None] + jax.random.randint(ks[3], (count,), -1, 2),
           config.pressure_levels - 1), config, straight)


def _painted(state, stroke, target, params):
  """The stroke (a paint action, colour ignored) from `state`, in its best colour -> (the
  stroke with its colour levels set, the canvas after it, its l2 to the target)."""
  config = params.config
  # Painted in black on white, the stroke leaves 1 - a: its opacity, whatever the canvas.
  probe = state.replace(canvas=jnp.ones_like(state.canvas))
  alpha = 1.0 - jax_paint.step(None, probe, stroke, params)[0].canvas[..., :1]
  canvas = state.canvas
  if config.grayscale:
    colour = jnp.zeros((1,), jnp.float32)
  else:
    levels = jnp.asarray(paint_actions.colour_levels(config), jnp.float32)
    num = jnp.sum(alpha * (target - canvas * (1.0 - alpha)), axis=(0, 1))
    den = jnp.sum(alpha * alpha, axis=(0, 1)) + 1e-8
    index = jnp.argmin(jnp.abs(jnp.clip(num / den, 0, 1)[:, None] - levels[None]), axis=1)
    stroke = dict(stroke, **{c: index[i].astype(jnp.int32)
                             for i, c in enumerate(paint_actions.COLOUR_COMPONENTS)})
    colour = levels[index]
  canvas = canvas + (colour - canvas) * alpha
  return stroke, canvas, jnp.mean((canvas - target) ** 2)


def _best(state, strokes, target, params):
  """Of a batch of strokes from `state`: (the best, with its colour; its l2)."""
  painted, _, l2 = jax.vmap(lambda s: _painted(state, s, target, params))(strokes)
  i = jnp.argmin(l2)
  return jax.tree.map(lambda v: v[i], painted), l2[i]


def _search(key, state, target, params, candidates, rounds, straight):
  """The best stroke from here and the best after a move (to the stroke's own start cell)
  for one picture -> (here, l2 here, move end, moved stroke, l2 after the move and stroke)."""
  config = params.config
  k_here, k_start, k_moved, k_rounds = jax.random.split(key, 4)
  here, l2_here = _best(state, _random_strokes(k_here, candidates, config, straight), target,
                          params)
  starts = jax.random.randint(k_start, (candidates, 2), 0, config.grid_size)
  moved_strokes = _random_strokes(k_moved, candidates, config, straight)

  def best_after_move(starts, strokes):
    """Of strokes each after a move to its start cell: ((start, the best, with its colour),
    its l2)."""
    painted, _, l2s = jax.vmap(lambda start, stroke: _painted(
        jax_paint.step(None, state, _move(start, config), params)[0], stroke, target,
        params))(starts, strokes)
    i = jnp.argmin(l2s)
    return (starts[i], jax.tree.map(lambda v: v[i], painted)), l2s[i]

  (start, moved), l2_moved = best_after_move(starts, moved_strokes)
  for k in jax.random.split(k_rounds, rounds):
    k1, k2, k3 = jax.random.split(k, 3)
    here, l2_here = _better(
        *_best(state, _mutated(k1, here, candidates, config, straight), target, params), here,
        l2_here)
    new_starts = jnp.clip(start[None] + jax.random.randint(k2, (candidates, 2), -2, 3), 0,
                          config.grid_size - 1)
    (start, moved), l2_moved = _better(
        *best_after_move(new_starts, _mutated(k3, moved, candidates, config, straight)),
        (start, moved), l2_moved)
  return here, l2_here, start, moved, l2_moved


@functools.partial(jax.jit, static_argnums=(4, 5, 6))
def _macro_step(keys, states, targets, params, candidates, rounds, straight):
  """One choice per picture: its actions (a stroke, or a move and a stroke, or a stay) and the
  states after them. -> (first, second, steps (1 or 2), new states)."""
  config = params.config

  def one(key, state, target):
    l2_now = jnp.mean((state.canvas - target) ** 2)
    here, l2_here, start, moved, l2_moved = _search(key, state, target, params, candidates,
                                                    rounds, straight)
    left = config.episode_length - state.episode_step
    gain_here = l2_now - l2_here
    gain_moved = jnp.where(left >= 2, (l2_now - l2_moved) / 2, -jnp.inf)
    stay, move = _move(state.location, config), _move(start, config)
    use_moved = (gain_moved > gain_here) & (gain_moved > 0)
    use_here = ~use_moved & (gain_here > 0)
    pick = lambda a, b, c: jax.tree.map(
        lambda x, y, z: jnp.where(use_moved, x, jnp.where(use_here, y, z)), a, b, c)
    first = pick(move, here, stay)
    second = pick(moved, stay, stay)
    steps = jnp.where(use_moved, 2, 1)
    new = jax_paint.step(None, state, first, params)[0]
    after_two = jax_paint.step(None, new, second, params)[0]
    new = jax.tree.map(lambda a, b: jnp.where(use_moved, a, b), after_two, new)
    done = state.episode_step >= config.episode_length
    new = jax.tree.map(lambda a, b: jnp.where(done, a, b), state, new)
    return first, second, jnp.where(done, 0, steps), new

  return jax.vmap(one)(keys, states, targets)


def greedy_programs(images, config, candidates=256, rounds=2, seed=0, batch_size=64,
                    straight=False):
  """The greedy expert for pictures (N, H, W, C) in [0, 1] at the canvas' size, C the config's
  channels -> (actions {component: (N, T, ...)}, weights {component: (N, T)}, renders
  (N, H, W, C), l2 (N,)), like `traced_programs.best_programs`. `candidates`: random strokes
  tried per step (from here, and as many after a move), and per round of changes; `rounds`:
  rounds of small changes to the best stroke; `straight`: straight strokes at full pressure
  (module docstring)."""
  images = np.asarray(images, np.float32)
  shape = (config.canvas_size, config.canvas_size, config.channels)
  if images.ndim != 4 or images.shape[1:] != shape:
    raise ValueError(f"greedy_programs takes pictures (N, {shape[0]}, {shape[1]}, {shape[2]}) "
                     f"for this config, got {images.shape}.")
  if candidates < 1 or rounds < 0:
    raise ValueError(f"candidates must be >= 1 and rounds >= 0, got {candidates}, {rounds}.")
  params = jax_paint.default_params(config)
  steps = config.episode_length
  _, move_mask, paint_mask = paint_actions.action_masks(config)
  n = len(images)
  actions = {c: np.zeros((n, steps, 2) if c in paint_actions.LOCATION_COMPONENTS else (n, steps),
                         np.int32) for c in config.components}
  weights = {c: np.zeros((n, steps), np.float32) for c in config.components}
  renders = np.zeros_like(images)
  key = jax.random.PRNGKey(seed)
  for lo in range(0, n, batch_size):
    targets = jnp.asarray(images[lo:lo + batch_size])
    m = len(targets)
    state, _ = jax_paint.reset(None, params)
    states = jax.tree.map(lambda v: jnp.broadcast_to(v, (m,) + v.shape), state)
    t = np.zeros(m, np.int64)
    while (t < steps).any():
      key, sub = jax.random.split(key)
      first, second, taken, states = _macro_step(jax.random.split(sub, m), states, targets,
                                                 params, candidates, rounds, straight)
      first, second = jax.device_get((first, second))
      taken = np.asarray(taken)
      for i in np.nonzero(taken)[0]:
        for offset, action in enumerate((first, second)[:taken[i]]):
          mask = paint_mask if action["flag"][i] == paint_actions.PAINT else move_mask
          for c in config.components:
            actions[c][lo + i, t[i] + offset] = action[c][i]
            weights[c][lo + i, t[i] + offset] = mask[c]
      t += taken
    renders[lo:lo + m] = np.asarray(states.canvas)
  l2 = ((renders - images) ** 2).mean(axis=(1, 2, 3))
  return actions, weights, renders, l2
