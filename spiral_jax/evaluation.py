"""Evaluation of a conditional agent: reconstruct target images and measure the l2 to them.

l2 is the paper's measure (Fig. 8): the mean squared error per pixel between the final render and
the target, images in [0, 1]. `l2_summary` gives its mean over images with a 95% confidence
interval (normal approximation: 1.96 standard errors).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from spiral_jax import actor as actor_lib
from spiral_jax import anakin as anakin_lib


def l2_per_image(renders, targets):
  renders, targets = np.asarray(renders, np.float64), np.asarray(targets, np.float64)
  if renders.shape != targets.shape:
    raise ValueError(f"Renders {renders.shape} and targets {targets.shape} differ in shape.")
  return np.mean(np.square(renders - targets), axis=tuple(range(1, renders.ndim)))


def l2_summary(renders, targets):
  """{"l2_mean", "l2_ci95", "num_images"} for (N, H, W, C) renders and targets."""
  l2 = l2_per_image(renders, targets)
  n = len(l2)
  ci = 1.96 * float(np.std(l2, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
  return {"l2_mean": float(np.mean(l2)), "l2_ci95": ci, "num_images": n}


def _batches(targets, batch_size):
  for start in range(0, len(targets), batch_size):
    yield start, targets[start:start + batch_size]


def reconstruct_functional(env, policy, params, targets, key, batch_size=64, greedy=False):
  """Final renders (N, H, W, C) of the agent on each target, with a JAX (functional) env."""
  run = jax.jit(functools.partial(anakin_lib.rollout, env, policy, greedy=greedy),
                static_argnums=(2,))
  renders = []
  for start, batch in _batches(np.asarray(targets, np.float32), batch_size):
    traj = run(params, jax.random.fold_in(key, start), len(batch), jnp.asarray(batch))
    renders.append(np.asarray(traj.final_canvas))
  return np.concatenate(renders)


def reconstruct_dm_env(env_factory, policy, params, targets, key, batch_size=64, greedy=False):
  """Final renders (N, H, W, C) of the agent on each target, with dm_env environments; also
  returns the episodes' actions (a list of per-image dicts of (T, ...) arrays)."""
  step = jax.jit(functools.partial(policy.step, greedy=greedy))
  envs = [env_factory() for _ in range(min(batch_size, len(targets)))]
  renders, actions = [], []
  try:
    for start, batch in _batches(np.asarray(targets, np.float32), batch_size):
      traj = actor_lib.run_episodes(envs[:len(batch)], policy, step, params,
                                    jax.random.fold_in(key, start), batch)
      renders.append(traj.final_canvas)
      actions += [{k: v[i] for k, v in traj.action.items()} for i in range(len(batch))]
  finally:
    for env in envs:
      env.close()
  return np.concatenate(renders), actions
