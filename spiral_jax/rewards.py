"""SPIRAL's rewards (paper sections 3.2 and 4, SPIRAL++). Pure functions; time-major (T, B).

`compute` assembles an agent's rewards for a batch of trajectories from the pieces below: the
paper's D(final render) (or -l2 to the target), SPIRAL++'s temporal credit, and the auxiliary
penalties. It is given D as a score function, so this module knows nothing of networks.

Canvases are floats in [0, 1], shape (..., H, W, C); white paper is 1.
"""

from typing import Callable, Dict, Optional, Tuple

import chex
import jax
import jax.numpy as jnp

ScoreFn = Callable[[chex.Array], chex.Array]  # canvases (B, H, W, C) -> scores (B,)


def final_step(values: chex.Array, num_steps: int) -> chex.Array:
  """Rewards (T, B) that are 0 except r_{T-1} = values (B,): the paper's D(final render)."""
  zeros = jnp.zeros((num_steps - 1,) + values.shape, values.dtype)
  return jnp.concatenate([zeros, values[None]], axis=0)


def l2_reward(canvas: chex.Array, target: chex.Array) -> chex.Array:
  """-mean squared error per image (the conditional agent's non-learned reward)."""
  return -jnp.mean(jnp.square(canvas - target), axis=(-3, -2, -1))


def pyramid_l2_reward(canvas: chex.Array, target: chex.Array, levels: int) -> chex.Array:
  """-mean over `levels` scales of the squared error of 2^k x 2^k block averages (k = 0 is the
  plain l2). Coarse scales see a stroke near the target's ink as nearly right, so the reward's
  gradient reaches strokes that do not yet overlap the ink, which plain l2's does not."""
  reward, used = l2_reward(canvas, target), 1
  pool = lambda x: 0.25 * (x[..., 0::2, 0::2, :] + x[..., 1::2, 0::2, :]
                           + x[..., 0::2, 1::2, :] + x[..., 1::2, 1::2, :])
  while used < levels and not (canvas.shape[-3] % 2 or canvas.shape[-2] % 2):
    canvas, target = pool(canvas), pool(target)
    reward, used = reward + l2_reward(canvas, target), used + 1
  return reward / used


def temporal_credit(scores: chex.Array) -> chex.Array:
  """SPIRAL++: r_t = D(c_{t+1}) - D(c_t) from scores (T + 1, B) of canvases c_0 .. c_T.

  The rewards sum to D(c_T) - D(c_0): the same total as the final-step reward, less a constant,
  but each stroke is credited with what it changed.
  """
  return scores[1:] - scores[:-1]


def new_stroke_penalty(paint_flags: chex.Array, cost: float = 0.1) -> chex.Array:
  """-cost at every step that starts a new continuous stroke: a paint after a move (or first).

  Args:
    paint_flags: (T, B) bool or 0/1: whether each action painted.
  """
  painted = jnp.asarray(paint_flags).astype(bool)
  before = jnp.concatenate([jnp.zeros_like(painted[:1]), painted[:-1]], axis=0)
  return -cost * (painted & ~before).astype(jnp.float32)


def empty_canvas_penalty(canvas: chex.Array, cost: float = 1.0, blank=1.0,
                         threshold: float = 0.05) -> chex.Array:
  """-cost for each canvas on which no pixel differs from `blank` by more than threshold: blank
  paper (1.0), or each episode's first canvas (B, H, W, C), whatever the renderer starts from
  (an empty MuJoCo platform)."""
  ink = jnp.max(jnp.abs(canvas - blank), axis=(-3, -2, -1))
  return -cost * (ink <= threshold).astype(jnp.float32)


def colour_histograms(images: chex.Array, bins: int = 16) -> chex.Array:
  """Per-channel colour histograms (..., C, bins), each summing to 1."""
  index = jnp.clip((images * bins).astype(jnp.int32), 0, bins - 1)
  one_hot = (index[..., None] == jnp.arange(bins)).astype(jnp.float32)  # (..., H, W, C, bins)
  counts = jnp.sum(one_hot, axis=(-4, -3))
  return counts / jnp.sum(counts, axis=-1, keepdims=True)


def colour_histogram_emd(canvas: chex.Array, target: chex.Array, bins: int = 16) -> chex.Array:
  """Earth mover's distance between colour histograms, averaged over channels (in [0, 1]).

  In one dimension EMD is the L1 distance between the cumulative histograms; it is measured in
  units of the whole colour range, so a uniform shift of every pixel by d costs about d.
  """
  cdf = lambda h: jnp.cumsum(h, axis=-1)
  distance = jnp.sum(jnp.abs(cdf(colour_histograms(canvas, bins))
                             - cdf(colour_histograms(target, bins))), axis=-1) / bins
  return jnp.mean(distance, axis=-1)


def colour_histogram_penalty(canvas: chex.Array, target: chex.Array, weight: float = 1.0,
                             bins: int = 16) -> chex.Array:
  """The CelebA penalty: -weight * EMD between the colour histograms of output and target."""
  return -weight * colour_histogram_emd(canvas, target, bins)


def compute(config, traj, d_score: Optional[ScoreFn] = None
            ) -> Tuple[chex.Array, Dict[str, chex.Array]]:
  """The rewards (T, B) of a time-major trajectory batch, and per-example metrics.

  Args:
    config: the reward settings (a `LearnerConfig`): reward ("discriminator" or "l2"),
      l2_levels, temporal_credit, reward_scale, new_stroke_cost, stroke_component,
      empty_canvas_cost, colour_histogram_weight.
    traj: a time-major `Trajectory` (canvas (T, B, H, W, C), final_canvas, target or None).
    d_score: D's score of renders (B, H, W, C) -> (B,), for the discriminator reward.

  Returns:
    (rewards, info): info's "l2" is each final render's mean squared error to its target
    (conditional agents) and "score" D's score of each final render (D reward).
  """
  num_steps, batch = traj.first.shape
  chex.assert_rank(traj.final_canvas, 4)
  chex.assert_shape(traj.canvas, (num_steps, batch) + traj.final_canvas.shape[1:])
  final = traj.final_canvas.astype(jnp.float32)
  conditional = traj.target is not None
  target = traj.target.astype(jnp.float32) if conditional else None
  info = {}
  if config.reward == "discriminator":
    if d_score is None:
      raise ValueError("The discriminator reward needs D's score function.")
    score_fn = d_score
  else:
    if not conditional:
      raise ValueError("The l2 reward needs targets: use a conditional agent.")
    score_fn = lambda canvas: pyramid_l2_reward(canvas, target, config.l2_levels)
  final_score = score_fn(final)
  if config.reward == "discriminator":
    info["score"] = final_score
  if config.temporal_credit:
    canvases = jnp.concatenate([traj.canvas.astype(jnp.float32), final[None]], axis=0)
    rewards = temporal_credit(jax.lax.map(score_fn, canvases))
  else:
    rewards = final_step(final_score, num_steps)
  rewards = config.reward_scale * rewards
  last = jnp.zeros((num_steps, 1)).at[-1].set(1.0)
  if config.new_stroke_cost:
    rewards += new_stroke_penalty(traj.action[config.stroke_component] == 1,
                                  config.new_stroke_cost)
  if config.empty_canvas_cost:
    # "Empty": unchanged from the canvas the episode began on (white paper for a painting).
    rewards += last * empty_canvas_penalty(final, config.empty_canvas_cost,
                                           blank=traj.canvas[0].astype(jnp.float32))
  if config.colour_histogram_weight and conditional:
    rewards += last * colour_histogram_penalty(final, target, config.colour_histogram_weight)
  if conditional:
    info["l2"] = -l2_reward(final, target)
  return jax.lax.stop_gradient(rewards), info
