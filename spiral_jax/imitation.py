"""Behaviour cloning: the policy learns to write programs it is shown (not in the paper).

SPIRAL learns from its discriminator's reward alone. Where the training images come with the
programs that drew them (a generated dataset, such as MuJoCo Scenes'), the policy can first learn
to write those programs: the demonstrations are played through the real renderer, so that every
action is seen on the canvas the program had drawn so far (teacher forcing), and the policy
maximises their likelihood. SPIRAL's reinforcement learning can then continue from the result
(`init_from`), as from any run.

  * `scripted_step`: a step function for `spiral_jax.actor.run_episodes` that plays given
    actions, so that demonstrations are recorded as the `Trajectory`s actors write;
  * `scripted_rollout`: the same for a renderer written in JAX (an `anakin.FunctionalEnv`), in
    one jittable function: the demonstrations' canvases and targets are rendered on the device;
  * `cloning_loss`: the negative log-likelihood of the demonstrated actions (pure);
  * `cloning_update`: one optax step on it (pure; jit it);
  * `candidate_loss`, `candidate_update`: learning from every action a search tried (below).

A search (`spiral_jax.rollout_search`) tries K candidates at each step and knows how each one
finishes. Cloning teaches only the one that finished best, a single lucky draw, and with the same
weight whether it beat the greedy action by much or by nothing; `candidate_loss` weighs each
candidate by how much closer than the greedy action's its finish came (`candidate_advantages`),
and a clipped policy-gradient surrogate (PPO's, Schulman et al., 2017) moves probability from the
greedy action to the candidates that beat it, within a ratio of the searching policy's
probability (`old_params`), so that the fixed data cannot push any probability to zero.

Each demonstration step has a weight per action component: 0 for a component the action did not
use (a scene's skip uses only its mode), so that the policy is not taught arbitrary values.
"""

from typing import Any, Dict, NamedTuple, Optional, Tuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from spiral_jax import trajectory as trajectory_lib
from spiral_jax.networks import policy as policy_lib


class Candidates(NamedTuple):
  """What a search tried at each step of the demonstrated episodes: K actions per step
  ({component: (B, T, K, ...)}), the weight of each of their components ({component: (B, T, K)})
  and the final l2 each one's finish reached ((B, T, K); lower is better)."""
  actions: Dict[str, np.ndarray]
  weights: Dict[str, np.ndarray]
  l2: np.ndarray


class Demonstrations(NamedTuple):
  """A batch of demonstrations: batch-major `Trajectory`s (B, T, ...) and the weight of each
  action component at each step ({component: (B, T)}, 1 where the action used it); for
  `candidate_loss`, also the search's `Candidates` at those steps."""
  trajectory: trajectory_lib.Trajectory
  weights: Dict[str, np.ndarray]
  candidates: Optional[Candidates] = None


def scripted_step(actions: Dict[str, np.ndarray]):
  """A `step_fn` for `actor.run_episodes` that plays `actions` ({component: (N, T, ...)}, one
  program per environment) instead of sampling: step t of every episode gets actions[:, t]."""
  lengths = {np.shape(v)[1] for v in actions.values()}
  if len(lengths) != 1:
    raise ValueError(f"The scripted actions' components differ in length: {sorted(lengths)}.")
  t = [0]

  def step(params, key, inputs, state):
    del params, key
    if np.all(np.asarray(inputs.first)):
      t[0] = 0
    if t[0] >= min(lengths):
      raise ValueError(f"The environments' episodes outlast the {min(lengths)} scripted steps.")
    out = {name: np.asarray(value)[:, t[0]] for name, value in actions.items()}
    t[0] += 1
    zeros = np.zeros(np.shape(inputs.first), np.float32)
    return out, policy_lib.PolicyOutput(zeros, zeros, zeros), state

  return step


def scripted_rollout(env, policy, actions: Dict[str, chex.Array],
                     played: Optional[Dict[str, chex.Array]] = None,
                     target: Optional[chex.Array] = None) -> trajectory_lib.Trajectory:
  """Demonstrations rendered by a functional environment (`anakin.FunctionalEnv`): a batch-major
  `Trajectory` (B, T, ...) for `actions` ({component: (B, T, ...)}, one program per row, T the
  environment's episode length) whose target is `target` (B, H, W, C) if given (a picture the
  program was written for), else the final canvas `actions` draw, and whose canvases, previous
  actions and action masks are those of playing `played` (default: the actions themselves; a
  perturbed copy shows the policy canvases that are not exact prefixes of its target). Pure: jit
  it with `env` and `policy` bound."""
  batch, steps = jax.tree.leaves(actions)[0].shape[:2]
  if steps != env.episode_length:
    raise ValueError(f"The programs have {steps} steps; the environment's episodes "
                     f"{env.episode_length}.")
  keys = jax.random.split(jax.random.PRNGKey(0), batch)  # the renderers are deterministic

  def play(program):
    state, timestep = jax.vmap(env.reset)(keys)

    def body(carry, action):
      state, timestep, prev_action, first = carry
      inputs = policy.inputs(timestep.observation, prev_action, first)
      state, timestep_next = jax.vmap(env.step)(keys, state, action)
      record = (inputs.canvas, prev_action, inputs.action_mask, inputs.first)
      return (state, timestep_next, action, jnp.zeros_like(first)), record

    program = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), program)  # time-major
    carry = (state, timestep, policy.zero_action((batch,)), jnp.ones((batch,), bool))
    carry, records = jax.lax.scan(body, carry, program)
    return carry[1].observation["canvas"], records

  final, (canvas, prev_action, mask, first) = play(actions if played is None else played)
  if target is None:
    target = final if played is None else play(actions)[0]
  batch_major = lambda x: jnp.swapaxes(x, 0, 1)
  return trajectory_lib.Trajectory(
      canvas=batch_major(canvas), prev_action=jax.tree.map(batch_major, prev_action),
      action_mask=jax.tree.map(batch_major, mask), first=batch_major(first),
      action=jax.tree.map(jnp.asarray, actions), behaviour_log_prob=jnp.zeros((batch, steps)),
      final_canvas=final, target=target)


def _time_major(demonstrations):
  traj = trajectory_lib.time_major(demonstrations.trajectory)
  weights = jax.tree.map(lambda x: jnp.swapaxes(jnp.asarray(x, jnp.float32), 0, 1),
                         demonstrations.weights)
  return traj, weights


def _step_inputs(policy, traj, copies=1):
  """The policy's StepInputs for a time-major trajectory's steps, its batch repeated `copies`
  times along the batch axis (copy-major)."""
  num_steps = traj.first.shape[0]
  tile = lambda x: jnp.concatenate([x] * copies, axis=1) if copies > 1 else x
  target = None
  if policy.conditional:
    if traj.target is None:
      raise ValueError("A conditional policy learns from demonstrations with targets.")
    target = tile(jnp.broadcast_to(traj.target[None], (num_steps,) + traj.target.shape))
  return policy_lib.StepInputs(tile(traj.canvas), jax.tree.map(tile, traj.prev_action),
                               jax.tree.map(tile, traj.action_mask), tile(traj.first), target)


def _nll(policy, params, traj, weights):
  """-mean log pi(demonstrated action), components weighted, on a time-major trajectory."""
  output, _ = policy.unroll(params, _step_inputs(policy, traj), traj.action,
                            policy.initial_state(traj.first.shape[1]), component_weights=weights)
  return -jnp.mean(output.log_prob)


def cloning_loss(policy, params, demonstrations: Demonstrations) -> chex.Array:
  """The mean over steps of -log pi(demonstrated action), each component's log-prob weighted."""
  traj, weights = _time_major(demonstrations)
  return _nll(policy, params, traj, weights)


def cloning_update(policy, optimiser: optax.GradientTransformation, params, opt_state,
                   demonstrations: Demonstrations) -> Tuple[Any, Any, Dict[str, chex.Array]]:
  """One optimiser step on `cloning_loss`: (params, opt_state, metrics). Metrics:
  "cloning_loss", "grad_norm", and "cloning_nll_<component>": each component's mean negative
  log-likelihood where it was used."""
  traj, weights = _time_major(demonstrations)
  loss, (grads, weight_grads) = jax.value_and_grad(
      lambda p, w: _nll(policy, p, traj, w), argnums=(0, 1))(params, weights)
  updates, opt_state = optimiser.update(grads, opt_state, params)
  metrics = {"cloning_loss": loss, "grad_norm": optax.tree.norm(grads)}
  # The loss is linear in each weight: its gradient is -log pi(component) / (T * B).
  count = traj.first.size
  for name, w in weights.items():
    nll = jnp.sum(w * weight_grads[name]) * count
    metrics[f"cloning_nll_{name}"] = nll / jnp.maximum(jnp.sum(w), 1.0)
  return optax.apply_updates(params, updates), opt_state, metrics


def _candidates_time_major(candidates: Candidates):
  """(B, T, K, ...) leaves -> (T, K * B, ...), candidate-major within each step."""
  def flatten(x):
    x = jnp.moveaxis(jnp.asarray(x), 2, 0)  # (K, B, T, ...)
    x = jnp.moveaxis(x, 2, 0)  # (T, K, B, ...)
    return x.reshape((x.shape[0], x.shape[1] * x.shape[2]) + x.shape[3:])
  return jax.tree.map(flatten, candidates)


def _candidate_log_probs(policy, params, traj, candidates):
  """log pi(candidate) (T, K * B) at the demonstrated episodes' steps (time-major `traj`)."""
  copies = candidates.l2.shape[1] // traj.first.shape[1]
  output, _ = policy.unroll(params, _step_inputs(policy, traj, copies), candidates.actions,
                            policy.initial_state(candidates.l2.shape[1]),
                            component_weights=candidates.weights)
  return output.log_prob


def candidate_advantages(l2: chex.Array) -> chex.Array:
  """Advantages (..., K) of K candidates from their final l2 (..., K), candidate 0 the greedy
  action: each other candidate gains by how much closer than the greedy action's it finished (0
  where it did not), and the greedy action loses their sum, so that probability moves from the
  greedy action to the candidates that beat it, and only where one did. Divided by the root mean
  square over everything given.

  (A baseline of the candidates' mean, which also lowers the samples that finished worse, made the
  greedy action less likely, not more: on a location grid the samples are mostly the greedy cell's
  neighbours, and lowering them lowered it too; docs/levers.md.)"""
  gain = jnp.maximum(l2[..., :1] - l2[..., 1:], 0.0)
  advantage = jnp.concatenate([-jnp.sum(gain, axis=-1, keepdims=True), gain], axis=-1)
  return advantage / (jnp.sqrt(jnp.mean(advantage ** 2)) + 1e-8)


def candidate_loss(policy, params, old_params, demonstrations: Demonstrations,
                   clip: float = 0.2) -> Tuple[chex.Array, Dict[str, chex.Array]]:
  """The clipped surrogate (module docstring) over every candidate of `demonstrations`, whose
  `candidates` the policy with `old_params` tried: (loss, metrics)."""
  if demonstrations.candidates is None:
    raise ValueError("candidate_loss learns from a search's candidates: the demonstrations have "
                     "none (write them with `experiments.trace_expert --expert=search`).")
  traj = trajectory_lib.time_major(demonstrations.trajectory)
  candidates = _candidates_time_major(demonstrations.candidates)
  batch = traj.first.shape[1]
  by_candidate = lambda x: x.reshape(x.shape[0], -1, batch)  # (T, K * B) -> (T, K, B)
  l2 = by_candidate(candidates.l2)
  advantage = candidate_advantages(l2.swapaxes(1, 2)).swapaxes(1, 2).reshape(candidates.l2.shape)
  log_prob = _candidate_log_probs(policy, params, traj, candidates)
  old_log_prob = jax.lax.stop_gradient(_candidate_log_probs(policy, old_params, traj, candidates))
  ratio = jnp.exp(log_prob - old_log_prob)
  surrogate = jnp.minimum(ratio * advantage, jnp.clip(ratio, 1 - clip, 1 + clip) * advantage)
  best_log_prob = jnp.take_along_axis(by_candidate(log_prob), jnp.argmin(l2, axis=1)[:, None],
                                      axis=1)
  metrics = {"clip_fraction": jnp.mean((jnp.abs(ratio - 1) > clip).astype(jnp.float32)),
             "best_nll": -jnp.mean(best_log_prob),
             "greedy_nll": -jnp.mean(by_candidate(log_prob)[:, 0])}
  return -jnp.mean(surrogate), metrics


def candidate_update(policy, optimiser: optax.GradientTransformation, clip: float, params,
                     opt_state, old_params, demonstrations: Demonstrations
                     ) -> Tuple[Any, Any, Dict[str, chex.Array]]:
  """One optimiser step on `candidate_loss`: (params, opt_state, metrics): "candidate_loss",
  "grad_norm", "clip_fraction" (the share of candidates whose ratio left the clip range),
  "best_nll" and "greedy_nll" (-log pi of the best-finishing and of the greedy candidate)."""
  (loss, metrics), grads = jax.value_and_grad(
      lambda p: candidate_loss(policy, p, old_params, demonstrations, clip), has_aux=True)(params)
  updates, opt_state = optimiser.update(grads, opt_state, params)
  metrics = dict(metrics, candidate_loss=loss, grad_norm=optax.tree.norm(grads))
  return optax.apply_updates(params, updates), opt_state, metrics
