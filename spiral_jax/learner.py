"""SPIRAL's two learners (paper section 3.4): the policy learner and the discriminator learner.

The maths is pure functions, shared by the threaded system and Anakin:
  * `policy_update`: one V-trace (or A2C) actor-critic step with optax, on rewards assembled by
    `spiral_jax.rewards.compute` from D's scores;
  * `discriminator_update`: one WGAN-GP step;
  * `iteration`: one learner iteration (policy update, replay add, `discriminator_steps` D
    updates), written once; each mode supplies how its steps run (`IterationOps`).
What D sees is the discriminator kind's (`spiral_jax.networks.discriminator.kind`).
Each update takes `axis_name`: inside `shard_map` every device holds a slice of the batch and
gradients and metrics are averaged over that axis, so all devices apply the same update.
Per-example randomness is drawn from keys folded with each example's global index, so the update
does not depend on how the batch is split over devices.

`Learner` holds the state and runs those updates jitted and data-parallel over a mesh of devices
(all of them by default; several hosts under `jax.distributed` work the same way, each host giving
its share of the batch).
"""

import dataclasses
import functools
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from spiral_jax import losses
from spiral_jax import rewards as rewards_lib
from spiral_jax import trajectory as trajectory_lib
from spiral_jax.networks import discriminator as disc_lib
from spiral_jax.networks import policy as policy_lib

AXIS = "batch"
Metrics = Dict[str, chex.Array]


@dataclasses.dataclass(frozen=True)
class LearnerConfig:
  """Hyper-parameters of both learners (defaults: the paper and SPIRAL++'s example run)."""
  batch_size: int = 64
  policy_learning_rate: float = 4e-4
  # > 0: the policy's learning rate falls linearly over this many policy updates to
  # policy_learning_rate_final times its first value, and stays there (0: constant).
  policy_learning_rate_decay_updates: int = 0
  policy_learning_rate_final: float = 0.1
  max_grad_norm: float = 40.0
  entropy_cost: float = 0.01
  baseline_cost: float = 0.5
  policy_gradient_cost: float = 1.0  # 0 leaves the policy to the renderer's gradients alone
  discount: float = 0.99
  algorithm: str = "vtrace"  # or "a2c"
  reward: str = "discriminator"  # or "l2" (conditional agents)
  l2_levels: int = 1  # the l2 reward over this many scales (rewards.pyramid_l2_reward)
  discriminator: str = "unconditional"  # or "conditional", "complement"
  temporal_credit: bool = False  # SPIRAL++: r_t = s(c_{t+1}) - s(c_t), s = D or -l2
  reward_scale: float = 1.0
  new_stroke_cost: float = 0.0  # the paper's penalty for starting a new continuous stroke ...
  stroke_component: str = "flag"  # ... read from this action component (1 = paint)
  empty_canvas_cost: float = 0.0
  colour_histogram_weight: float = 0.0  # CelebA's colour-histogram EMD penalty
  discriminator_learning_rate: float = 1e-4
  discriminator_b1: float = 0.5
  discriminator_b2: float = 0.999
  penalty_weight: float = 10.0
  centring_weight: float = 1.0
  discriminator_steps: int = 1  # D updates per policy update (D trains at a higher rate)
  replay_batches: int = 20  # D's replay holds this many batches of final renders
  # Renderer gradients (Anakin with a differentiable renderer): the policy loss also gets
  # -pathwise_cost * mean score of the final renders (D's, or -l2 for the l2 reward), its
  # gradient taken through the renderer with straight-through Gumbel-softmax samples.
  pathwise_cost: float = 0.0
  pathwise_temperature: float = 1.0

  def __post_init__(self):
    if self.algorithm not in ("vtrace", "a2c"):
      raise ValueError(f"algorithm must be 'vtrace' or 'a2c', not {self.algorithm!r}.")
    if self.reward not in ("discriminator", "l2"):
      raise ValueError(f"reward must be 'discriminator' or 'l2', not {self.reward!r}.")
    disc_lib.kind(self.discriminator)  # raises for an unknown kind
    for name in ("batch_size", "discriminator_steps", "replay_batches"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}.")
    if self.policy_learning_rate_decay_updates < 0:
      raise ValueError("policy_learning_rate_decay_updates must be 0 (constant) or more, got "
                       f"{self.policy_learning_rate_decay_updates!r}.")
    if not 0.0 < self.policy_learning_rate_final <= 1.0:
      raise ValueError("policy_learning_rate_final is a fraction of policy_learning_rate, in "
                       f"(0, 1]; got {self.policy_learning_rate_final!r}.")

  @property
  def kind(self) -> disc_lib.Unconditional:
    """The discriminator kind: what D sees (`spiral_jax.networks.discriminator`)."""
    return disc_lib.kind(self.discriminator)


class LearnerState(NamedTuple):
  policy_params: Any
  policy_opt_state: Any
  d_params: Any
  d_opt_state: Any
  sn_state: Any
  policy_updates: jnp.ndarray  # int32
  d_updates: jnp.ndarray  # int32


def policy_optimiser(config):
  learning_rate = config.policy_learning_rate
  if config.policy_learning_rate_decay_updates:
    learning_rate = optax.linear_schedule(
        learning_rate, learning_rate * config.policy_learning_rate_final,
        config.policy_learning_rate_decay_updates)
  return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(learning_rate))


def discriminator_optimiser(config):
  return optax.adam(config.discriminator_learning_rate, b1=config.discriminator_b1,
                    b2=config.discriminator_b2)


def init(policy, discriminator, config: LearnerConfig, key: chex.PRNGKey) -> LearnerState:
  """A fresh LearnerState."""
  key_policy, key_d = jax.random.split(key)
  policy_params = policy.init(key_policy)
  d_params, sn_state = discriminator.init(key_d)
  return LearnerState(policy_params, policy_optimiser(config).init(policy_params),
                      d_params, discriminator_optimiser(config).init(d_params), sn_state,
                      jnp.int32(0), jnp.int32(0))


def is_conditional(config: LearnerConfig) -> bool:
  """Whether the agent reconstructs targets (so trajectories carry them)."""
  return config.reward == "l2" or config.kind.conditional


# Per-example randomness.

def example_keys(key: chex.PRNGKey, batch_size: int, axis_name: Optional[str] = None) -> chex.Array:
  """One key per local example, folded with its global index in the batch."""
  offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * batch_size
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(offset + jnp.arange(batch_size))


# Updates.

def _mean(x, axis_name):
  x = jnp.mean(x)
  return x if axis_name is None else jax.lax.pmean(x, axis_name)


def _apply_gradients(optimiser, grads, params, opt_state, axis_name):
  """Averages gradients over the devices (when data-parallel) and takes one optimiser step:
  (averaged gradients, new params, new optimiser state)."""
  if axis_name is not None:
    grads = jax.lax.pmean(grads, axis_name)
  updates, opt_state = optimiser.update(grads, opt_state, params)
  return grads, optax.apply_updates(params, updates), opt_state


def policy_update(policy, discriminator, config: LearnerConfig, state: LearnerState,
                  traj: trajectory_lib.Trajectory, key: chex.PRNGKey,
                  axis_name: Optional[str] = None,
                  pathwise: Optional[Callable] = None) -> Tuple[LearnerState, Metrics]:
  """One policy-learner step on a time-major trajectory batch: (new state, metrics).

  pathwise: params -> final canvases (B, H, W, C), differentiable (`anakin.rollout` with a
    temperature); with `config.pathwise_cost`, the loss also gets -pathwise_cost * their mean
    score, so the policy learns from the renderer's gradients as well.
  """
  num_steps, batch = traj.first.shape
  chex.assert_shape(traj.behaviour_log_prob, (num_steps, batch))
  kind = config.kind
  d_params, _ = discriminator.normalize(state.d_params, state.sn_state)
  keys = example_keys(jax.random.fold_in(key, 0), batch, axis_name)
  d_score = lambda canvas: kind.score(discriminator, d_params,
                                     kind.fake(canvas, traj.target, keys))
  rewards, info = rewards_lib.compute(config, traj, d_score)
  score_fn = (d_score if config.reward == "discriminator"
              else lambda canvas: rewards_lib.pyramid_l2_reward(canvas, traj.target,
                                                                config.l2_levels))
  target = None
  if policy.conditional:
    target = jnp.broadcast_to(traj.target[None], (num_steps,) + traj.target.shape)
  inputs = policy_lib.StepInputs(traj.canvas, traj.prev_action, traj.action_mask, traj.first,
                                 target)
  discounts = jnp.full((num_steps, batch), config.discount).at[-1].set(0.0)

  def loss_fn(params):
    output, _ = policy.unroll(params, inputs, traj.action, policy.initial_state(batch))
    kwargs = dict(baseline_cost=config.baseline_cost, entropy_cost=config.entropy_cost,
                  policy_gradient_cost=config.policy_gradient_cost)
    bootstrap = jnp.zeros((batch,))
    if config.algorithm == "vtrace":
      out = losses.vtrace_loss(output.log_prob, traj.behaviour_log_prob, output.entropy,
                               output.value, rewards, discounts, bootstrap, **kwargs)
    else:
      out = losses.a2c_loss(output.log_prob, output.entropy, output.value, rewards, discounts,
                            bootstrap, **kwargs)
    loss = out.loss
    if pathwise is not None and config.pathwise_cost:
      loss -= config.pathwise_cost * jnp.mean(score_fn(pathwise(params)))
    return loss, (out, output)

  (_, (loss, output)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.policy_params)
  grads, params, opt_state = _apply_gradients(policy_optimiser(config), grads,
                                              state.policy_params, state.policy_opt_state,
                                              axis_name)
  metrics = {"policy_loss": loss.loss, "entropy": loss.entropy, "baseline_loss": loss.baseline,
             "episode_return": jnp.sum(rewards, axis=0), "value": output.value[0],
             "grad_norm": optax.tree.norm(grads)}
  metrics.update({name: value for name, value in info.items()})
  metrics = {name: _mean(value, axis_name) for name, value in metrics.items()}
  return state._replace(policy_params=params, policy_opt_state=opt_state,
                        policy_updates=state.policy_updates + 1), metrics


def discriminator_update(discriminator, config: LearnerConfig, state: LearnerState,
                         real: chex.Array, fake: chex.Array, key: chex.PRNGKey,
                         axis_name: Optional[str] = None) -> Tuple[LearnerState, Metrics]:
  """One WGAN-GP step on D's inputs (B, ...): `real` from the kind's `real`, `fake` from its
  `fake` or `fake_from_items`."""
  chex.assert_equal_shape([real, fake])
  kind = config.kind
  eps = jax.vmap(lambda k: jax.random.uniform(k))(example_keys(key, real.shape[0], axis_name))

  def loss_fn(d_params):
    params, sn_state = discriminator.normalize(d_params, state.sn_state)
    out = losses.wgan_gp_loss(lambda x: kind.score(discriminator, params, x), real, fake,
                              penalty_weight=config.penalty_weight,
                              centring_weight=config.centring_weight, eps=eps,
                              axis_name=axis_name)
    return out.loss, (out, sn_state)

  (_, (out, sn_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.d_params)
  _, params, opt_state = _apply_gradients(discriminator_optimiser(config), grads,
                                          state.d_params, state.d_opt_state, axis_name)
  metrics = {"d_loss": out.loss, "wasserstein": out.wasserstein, "gradient_penalty": out.penalty,
             "d_mean_score": out.mean_score}
  metrics = {name: _mean(value, axis_name) for name, value in metrics.items()}
  return state._replace(d_params=params, d_opt_state=opt_state, sn_state=sn_state,
                        d_updates=state.d_updates + 1), metrics


# One learner iteration, the same in every mode.

class IterationOps(NamedTuple):
  """How a training mode runs the steps of one learner iteration (each closes over its keys and
  data sources; `j` counts the D updates within the iteration).

  update_policy: (state, traj) -> (state, metrics).
  add: (replay, items) -> replay, items made by the kind's `replay_item`.
  sample_real: j -> dataset images (B, H, W, C).
  sample_fake: (replay, j) -> replay items (B, ...).
  update_discriminator: (state, real images, fake items, j) -> (state, metrics).
  """
  update_policy: Callable
  add: Callable
  sample_real: Callable
  sample_fake: Callable
  update_discriminator: Callable


def iteration(ops: IterationOps, config: LearnerConfig, state: Any, replay: Any,
              traj: trajectory_lib.Trajectory) -> Tuple[Any, Any, Metrics]:
  """One learner iteration (paper section 3.4): a policy update on the batch, its final renders
  into D's replay, then `discriminator_steps` D updates on replay samples and real images (D
  trains at a higher rate than the policy). Returns (state, replay, metrics)."""
  state, metrics = ops.update_policy(state, traj)
  replay = ops.add(replay, config.kind.replay_item(traj.final_canvas, traj.target))
  for j in range(config.discriminator_steps):
    state, d_metrics = ops.update_discriminator(state, ops.sample_real(j),
                                                ops.sample_fake(replay, j), j)
    metrics = dict(metrics, **d_metrics)
  return state, replay, metrics


# The stateful, data-parallel learner of the threaded system.

def make_mesh(devices=None):
  """A one-axis mesh ("batch") over `devices` (default: every device of every host)."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.array(devices), (AXIS,))


def host_to_global(tree, mesh, spec):
  """This host's share of a batch (or a replicated value) -> global arrays on the mesh."""
  sharding = NamedSharding(mesh, spec)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
                      tree)


class Learner:
  """Holds a LearnerState replicated on a mesh and updates it with jitted, data-parallel steps.

  `update_policy(batch)` takes this host's share of a batch-major Trajectory batch;
  `update_discriminator(real, fake_items)` takes dataset images and replay items.
  Batches must divide evenly over the mesh's devices.
  """

  def __init__(self, policy, discriminator, config, state, devices=None):
    self.policy = policy
    self.discriminator = discriminator
    self.config = config
    self.mesh = make_mesh(devices)
    self.num_devices = self.mesh.devices.size
    self.state = host_to_global(jax.device_get(state), self.mesh, P())

    def policy_step(state, batch, key):
      return policy_update(policy, discriminator, config, state,
                           trajectory_lib.time_major(batch), key, AXIS)

    def d_step(state, real_images, fake_items, key):
      keys = example_keys(jax.random.fold_in(key, 1), fake_items.shape[0], AXIS)
      real = config.kind.real(real_images)
      fake = config.kind.fake_from_items(fake_items, keys)
      return discriminator_update(discriminator, config, state, real, fake, key, AXIS)

    smap = functools.partial(jax.shard_map, mesh=self.mesh, out_specs=(P(), P()),
                             check_vma=False)
    # No buffer donation: actors may still hold the parameters published before an update.
    self._policy_step = jax.jit(smap(policy_step, in_specs=(P(), P(AXIS), P())))
    self._d_step = jax.jit(smap(d_step, in_specs=(P(), P(AXIS), P(AXIS), P())))

  def _check_batch(self, size):
    local = sum(d.process_index == jax.process_index() for d in self.mesh.devices.flat)
    if size % local:
      raise ValueError(f"A batch of {size} does not split over this host's {local} devices: "
                       "make the batch size a multiple of the device count.")

  def policy_step(self, state, batch, key):
    """A policy update of `state` (a replicated LearnerState) on this host's share of a
    batch-major Trajectory batch: (new state, metrics)."""
    self._check_batch(batch.first.shape[0])
    batch = host_to_global(batch, self.mesh, P(AXIS))
    return self._policy_step(state, batch, self._replicated(key))

  def discriminator_step(self, state, real_images, fake_items, key):
    """A D update of `state` on dataset images and replay items: (new state, metrics)."""
    self._check_batch(real_images.shape[0])
    real = host_to_global(real_images, self.mesh, P(AXIS))
    fake = host_to_global(fake_items, self.mesh, P(AXIS))
    return self._d_step(state, real, fake, self._replicated(key))

  def update_policy(self, batch, key):
    self.state, metrics = self.policy_step(self.state, batch, key)
    return metrics

  def update_discriminator(self, real_images, fake_items, key):
    self.state, metrics = self.discriminator_step(self.state, real_images, fake_items, key)
    return metrics

  def _replicated(self, x):
    return host_to_global(np.asarray(x), self.mesh, P())

  def policy_params(self):
    """This host's copy of the policy parameters (for actors)."""
    return jax.tree.map(lambda x: x.addressable_data(0), self.state.policy_params)

  def host_state(self):
    """The whole LearnerState as numpy (for checkpoints)."""
    return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), self.state)
