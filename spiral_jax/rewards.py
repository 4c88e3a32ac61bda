"""SPIRAL's rewards (paper sections 3.2 and 4, SPIRAL++). Pure functions; time-major (T, B).

Canvases are floats in [0, 1], shape (..., H, W, C); white paper is 1.
"""

import jax.numpy as jnp


def final_step(values, num_steps):
  """Rewards (T, B) that are 0 except r_{T-1} = values (B,): the paper's D(final render)."""
  zeros = jnp.zeros((num_steps - 1,) + values.shape, values.dtype)
  return jnp.concatenate([zeros, values[None]], axis=0)


def l2_reward(canvas, target):
  """-mean squared error per image (the conditional agent's non-learned reward)."""
  return -jnp.mean(jnp.square(canvas - target), axis=(-3, -2, -1))


def temporal_credit(scores):
  """SPIRAL++: r_t = D(c_{t+1}) - D(c_t) from scores (T + 1, B) of canvases c_0 .. c_T.

  The rewards sum to D(c_T) - D(c_0): the same total as the final-step reward, less a constant,
  but each stroke is credited with what it changed.
  """
  return scores[1:] - scores[:-1]


def new_stroke_penalty(paint_flags, cost=0.1):
  """-cost at every step that starts a new continuous stroke: a paint after a move (or first).

  Args:
    paint_flags: (T, B) bool or 0/1: whether each action painted.
  """
  painted = jnp.asarray(paint_flags).astype(bool)
  before = jnp.concatenate([jnp.zeros_like(painted[:1]), painted[:-1]], axis=0)
  return -cost * (painted & ~before).astype(jnp.float32)


def empty_canvas_penalty(canvas, cost=1.0, blank=1.0, threshold=0.05):
  """-cost for each canvas on which no pixel differs from blank paper by more than threshold."""
  ink = jnp.max(jnp.abs(canvas - blank), axis=(-3, -2, -1))
  return -cost * (ink <= threshold).astype(jnp.float32)


def colour_histograms(images, bins=16):
  """Per-channel colour histograms (..., C, bins), each summing to 1."""
  index = jnp.clip((images * bins).astype(jnp.int32), 0, bins - 1)
  one_hot = (index[..., None] == jnp.arange(bins)).astype(jnp.float32)  # (..., H, W, C, bins)
  counts = jnp.sum(one_hot, axis=(-4, -3))
  return counts / jnp.sum(counts, axis=-1, keepdims=True)


def colour_histogram_emd(canvas, target, bins=16):
  """Earth mover's distance between colour histograms, averaged over channels (in [0, 1]).

  In one dimension EMD is the L1 distance between the cumulative histograms; it is measured in
  units of the whole colour range, so a uniform shift of every pixel by d costs about d.
  """
  cdf = lambda h: jnp.cumsum(h, axis=-1)
  distance = jnp.sum(jnp.abs(cdf(colour_histograms(canvas, bins))
                             - cdf(colour_histograms(target, bins))), axis=-1) / bins
  return jnp.mean(distance, axis=-1)


def colour_histogram_penalty(canvas, target, weight=1.0, bins=16):
  """The CelebA penalty: -weight * EMD between the colour histograms of output and target."""
  return -weight * colour_histogram_emd(canvas, target, bins)
