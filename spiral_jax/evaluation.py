"""Evaluation: a conditional agent reconstructs target images (and the l2 to them is measured);
an unconditional one paints samples.

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


def episode_steps(episode):
  """One episode's actions, a dict of (T, ...) arrays (as `reconstruct_dm_env` gives them), as
  the list of its T per-step action dicts (what a renderer's program takes)."""
  return [{k: v[t] for k, v in episode.items()} for t in range(len(next(iter(episode.values()))))]


def _chunks(count, batch_size):
  """(start, size) of the batches that paint `count` episodes."""
  return [(start, min(batch_size, count - start)) for start in range(0, count, batch_size)]


def reconstruct_functional(env, policy, params, targets, key, batch_size=64, greedy=False):
  """Final renders (N, H, W, C) of the agent on each target, with a JAX (functional) env."""
  targets = np.asarray(targets, np.float32)
  return _functional(env, policy, params, key, _chunks(len(targets), batch_size), greedy,
                     lambda start, n: jnp.asarray(targets[start:start + n]))


def sample_functional(env, policy, params, num, key, batch_size=64):
  """`num` final renders (N, H, W, C) of an unconditional agent's sampled episodes, with a JAX
  (functional) env."""
  return _functional(env, policy, params, key, _chunks(num, batch_size), False,
                     lambda start, n: None)


def _functional(env, policy, params, key, chunks, greedy, targets_of):
  run = jax.jit(functools.partial(anakin_lib.rollout, env, policy, greedy=greedy),
                static_argnums=(2,))
  renders = [np.asarray(run(params, jax.random.fold_in(key, start), n,
                            targets_of(start, n)).final_canvas) for start, n in chunks]
  return np.concatenate(renders)


def reconstruct_dm_env(env_factory, policy, params, targets, key, batch_size=64, greedy=False):
  """Final renders (N, H, W, C) of the agent on each target, with dm_env environments; also
  returns the episodes' actions (a list of per-image dicts of (T, ...) arrays)."""
  targets = np.asarray(targets, np.float32)
  return _dm_env(env_factory, policy, params, key, _chunks(len(targets), batch_size), greedy,
                 lambda start, n: targets[start:start + n])


def sample_dm_env(env_factory, policy, params, num, key, batch_size=64):
  """`num` final renders of an unconditional agent's sampled episodes with dm_env environments,
  and their actions (as `reconstruct_dm_env`)."""
  return _dm_env(env_factory, policy, params, key, _chunks(num, batch_size), False,
                 lambda start, n: None)


def _dm_env(env_factory, policy, params, key, chunks, greedy, targets_of):
  step = jax.jit(functools.partial(policy.step, greedy=greedy))
  envs = [env_factory() for _ in range(max(n for _, n in chunks))]
  renders, actions = [], []
  try:
    for start, n in chunks:
      traj = actor_lib.run_episodes(envs[:n], policy, step, params,
                                    jax.random.fold_in(key, start), targets_of(start, n))
      renders.append(traj.final_canvas)
      actions += [{k: v[i] for k, v in traj.action.items()} for i in range(n)]
  finally:
    for env in envs:
      env.close()
  return np.concatenate(renders), actions
