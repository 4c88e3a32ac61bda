"""Policy improvement by rollouts (not in the paper): a search that paints better than the policy
it starts from, whose programs the policy can then be cloned on (expert iteration).

At each step of an episode the policy proposes candidates: its most likely action and
`candidates - 1` samples. Each candidate is played, the episode is finished from it with the
policy's most likely actions, and the candidate whose finished canvas is closest to the target (l2)
is taken. The greedy policy's own action is always a candidate and its rollout is deterministic,
so the search's final l2 is never above the greedy policy's on the same target: it is a policy
improvement operator whose choices lie where the policy already puts probability, so that a clone
of them is learnable (unlike an outside expert's; docs/levers.md).

Everything goes through dm_env-style specs only: a functional environment
(`anakin.FunctionalEnv`) whose observations carry the "canvas" (and, where the environment has
them, "action_mask": which components of the last action mattered, used as the demonstration's
weights), and a conditional `Policy`. `search_rollout` is pure (jit it with `env`, `policy` and
`candidates` bound); `search_programs` runs it over many targets in batches.
"""

import functools
from typing import Callable, Dict, NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp
import numpy as np


class SearchResult(NamedTuple):
  actions: Dict[str, chex.Array]  # {component: (B, T, ...)}: the search's programs
  weights: Dict[str, chex.Array]  # {component: (B, T)}: 1 where the action used the component
  final_canvas: chex.Array  # (B, H, W, C)
  l2: chex.Array  # (B,): the search's final l2 to the target
  greedy_l2: chex.Array  # (B,): the greedy policy's final l2 on the same targets
  # Every candidate tried at each step of the search's episode (candidate 0: the greedy action),
  # for learning from all of them (`imitation.candidate_loss`):
  candidate_actions: Dict[str, chex.Array]  # {component: (B, T, K, ...)}
  candidate_weights: Dict[str, chex.Array]  # {component: (B, T, K)}: 1 where it was used
  candidate_l2: chex.Array  # (B, T, K): the final l2 of the greedy finish from each


def _l2(canvas, targets):
  return jnp.mean((canvas - targets) ** 2, axis=tuple(range(1, canvas.ndim)))


def _tile(tree, k):
  """(B, ...) leaves -> (k * B, ...), the batch repeated k times (candidate-major)."""
  return jax.tree.map(lambda x: jnp.broadcast_to(x[None], (k,) + x.shape).reshape(
      (k * x.shape[0],) + x.shape[1:]), tree)


def _greedy_finish(env, policy, params, key, env_state, timestep, lstm, prev_action, targets,
                   steps):
  """The canvas after `steps` more steps (a traced count) of the greedy policy."""
  batch = targets.shape[0]
  env_keys = jax.random.split(key, batch)

  def body(carry):
    i, env_state, timestep, lstm, prev_action = carry
    inputs = policy.inputs(timestep.observation, prev_action, jnp.zeros((batch,), bool), targets)
    action, _, lstm = policy.step(params, key, inputs, lstm, greedy=True)
    env_state, timestep = jax.vmap(env.step)(env_keys, env_state, action)
    return i + 1, env_state, timestep, lstm, action

  carry = jax.lax.while_loop(lambda c: c[0] < steps, body,
                             (jnp.int32(0), env_state, timestep, lstm, prev_action))
  return carry[2].observation["canvas"]


def search_rollout(env, policy, params, key: chex.PRNGKey, targets: chex.Array,
                   candidates: int) -> SearchResult:
  """The search (module docstring) on a batch of targets (B, H, W, C): one program per target.
  `candidates` >= 1 actions are tried per step (1: the greedy policy itself)."""
  if candidates < 1:
    raise ValueError(f"candidates must be >= 1, got {candidates}.")
  if not policy.conditional:
    raise ValueError("The rollout search needs a conditional policy (it paints given targets).")
  batch = targets.shape[0]
  steps = env.episode_length
  env_keys = jax.random.split(jax.random.fold_in(key, 0), batch)
  env_state, timestep = jax.vmap(env.reset)(env_keys)
  tiled_targets = _tile(targets, candidates)
  tiled_keys = _tile(env_keys, candidates)

  def body(carry, t):
    env_state, timestep, lstm, prev_action, first, greedy_l2 = carry
    step_key = jax.random.fold_in(key, t + 1)
    inputs = policy.inputs(timestep.observation, prev_action, first, targets)
    best, _, next_lstm = policy.step(params, step_key, inputs, lstm, greedy=True)
    sample_keys = jax.random.split(step_key, candidates)[1:]
    sampled = jax.vmap(lambda k: policy.step(params, k, inputs, lstm)[0])(sample_keys)
    proposals = jax.tree.map(lambda g, s: jnp.concatenate([g[None], s]), best, sampled)
    flat = jax.tree.map(lambda x: x.reshape((candidates * batch,) + x.shape[2:]), proposals)
    tried_state, tried_timestep = jax.vmap(env.step)(
        tiled_keys, _tile(env_state, candidates), flat)
    final = _greedy_finish(env, policy, params, jax.random.fold_in(step_key, 1), tried_state,
                           tried_timestep, _tile(next_lstm, candidates), flat, tiled_targets,
                           steps - t - 1)
    l2 = _l2(final, tiled_targets).reshape(candidates, batch)
    pick = jnp.argmin(l2, axis=0)  # ties: the greedy action (candidate 0)
    choose = lambda x: jnp.take_along_axis(
        x.reshape((candidates, batch) + x.shape[1:]),
        pick.reshape((1, batch) + (1,) * (x.ndim - 1)), axis=0)[0]
    action = jax.tree.map(choose, flat)
    env_state = jax.tree.map(choose, tried_state)
    timestep = jax.tree.map(choose, tried_timestep)
    greedy_l2 = jnp.where(t == 0, l2[0], greedy_l2)
    # which components each action used: the policy's next mask (all, where the env has none)
    tried_used = policy.inputs(tried_timestep.observation, flat,
                               jnp.zeros((candidates * batch,), bool)).action_mask
    used = jax.tree.map(choose, tried_used)
    by_candidate = lambda x: jnp.moveaxis(x.reshape((candidates, batch) + x.shape[1:]), 0, 1)
    record = (action, used, jax.tree.map(by_candidate, flat),
              jax.tree.map(by_candidate, tried_used), l2.T)
    return (env_state, timestep, next_lstm, action, jnp.zeros_like(first), greedy_l2), record

  carry = (env_state, timestep, policy.initial_state(batch), policy.zero_action((batch,)),
           jnp.ones((batch,), bool), jnp.zeros((batch,), jnp.float32))
  carry, records = jax.lax.scan(body, carry, jnp.arange(steps))
  actions, weights, tried, tried_weights, tried_l2 = jax.tree.map(
      lambda x: jnp.swapaxes(x, 0, 1), records)  # batch-major
  as_weight = lambda w: w.astype(jnp.float32)
  final = carry[1].observation["canvas"]
  return SearchResult(actions=actions, weights=jax.tree.map(as_weight, weights),
                      final_canvas=final, l2=_l2(final, targets), greedy_l2=carry[5],
                      candidate_actions=tried,
                      candidate_weights=jax.tree.map(as_weight, tried_weights),
                      candidate_l2=tried_l2)


def search_programs(env, policy, params, targets, candidates: int, key: chex.PRNGKey,
                    batch_size: int = 32, on_batch: Optional[Callable[[int], None]] = None):
  """`search_rollout` over many targets (N, H, W, C), in batches -> `SearchResult` of numpy
  arrays (N, ...). `on_batch(n)` is called after each batch with the targets it painted."""
  targets = np.asarray(targets, np.float32)
  run = jax.jit(functools.partial(search_rollout, env, policy), static_argnums=(3,))
  parts = []
  for start in range(0, len(targets), batch_size):
    parts.append(jax.device_get(run(params, jax.random.fold_in(key, start),
                                    targets[start:start + batch_size], candidates)))
    if on_batch is not None:
      on_batch(len(parts[-1].l2))
  return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)
