"""SPIRAL's two learners (paper section 3.4): the policy learner and the discriminator learner.

The maths is pure functions, shared by the threaded system and Anakin:
  * `compute_rewards`: the agent's rewards for a batch of trajectories (D(final render), or -l2 to
    the target, optionally SPIRAL++ temporal credit, plus the auxiliary penalties);
  * `policy_update`: one V-trace (or A2C) actor-critic step with optax;
  * `discriminator_update`: one WGAN-GP step.
Each takes `axis_name`: inside `shard_map` every device holds a slice of the batch and gradients and
metrics are averaged over that axis, so all devices apply the same update. Per-example randomness is
drawn from keys folded with each example's global index, so the update does not depend on how the
batch is split over devices.

`Learner` holds the state and runs those updates jitted and data-parallel over a mesh of devices
(all of them by default; several hosts under `jax.distributed` work the same way, each host giving
its share of the batch).
"""

import dataclasses
import functools
from typing import Any, NamedTuple, Optional

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
DISCRIMINATOR_KINDS = ("unconditional", "conditional", "complement")


@dataclasses.dataclass(frozen=True)
class LearnerConfig:
  """Hyper-parameters of both learners (defaults: the paper and SPIRAL++'s example run)."""
  batch_size: int = 64
  policy_learning_rate: float = 4e-4
  max_grad_norm: float = 40.0
  entropy_cost: float = 0.01
  baseline_cost: float = 0.5
  discount: float = 0.99
  algorithm: str = "vtrace"  # or "a2c"
  reward: str = "discriminator"  # or "l2" (conditional agents)
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

  def __post_init__(self):
    if self.algorithm not in ("vtrace", "a2c"):
      raise ValueError(f"algorithm must be 'vtrace' or 'a2c', not {self.algorithm!r}.")
    if self.reward not in ("discriminator", "l2"):
      raise ValueError(f"reward must be 'discriminator' or 'l2', not {self.reward!r}.")
    if self.discriminator not in DISCRIMINATOR_KINDS:
      raise ValueError(f"discriminator must be one of {DISCRIMINATOR_KINDS}, "
                       f"not {self.discriminator!r}.")


class LearnerState(NamedTuple):
  policy_params: Any
  policy_opt_state: Any
  d_params: Any
  d_opt_state: Any
  sn_state: Any
  policy_updates: jnp.ndarray  # int32
  d_updates: jnp.ndarray  # int32


def policy_optimiser(config):
  return optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                     optax.adam(config.policy_learning_rate))


def discriminator_optimiser(config):
  return optax.adam(config.discriminator_learning_rate, b1=config.discriminator_b1,
                    b2=config.discriminator_b2)


def init(policy, discriminator, config, key):
  """A fresh LearnerState."""
  key_policy, key_d = jax.random.split(key)
  policy_params = policy.init(key_policy)
  d_params, sn_state = discriminator.init(key_d)
  return LearnerState(policy_params, policy_optimiser(config).init(policy_params),
                      d_params, discriminator_optimiser(config).init(d_params), sn_state,
                      jnp.int32(0), jnp.int32(0))


def is_conditional(config):
  """Whether the agent reconstructs targets (so trajectories carry them)."""
  return config.reward == "l2" or config.discriminator != "unconditional"


# Per-example randomness.

def example_keys(key, batch_size, axis_name=None):
  """One key per local example, folded with its global index in the batch."""
  offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * batch_size
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(offset + jnp.arange(batch_size))


# The discriminator's view of images.

def discriminator_input(config, canvas, target, keys):
  """What D scores for renders `canvas` (B, H, W, C) of targets `target`: the canvas itself
  (unconditional), the pair on channels (conditional) or a complement mix (one cut per key)."""
  if config.discriminator == "conditional":
    return jnp.concatenate([canvas, target], axis=-1)
  if config.discriminator == "complement":
    mix = jax.vmap(lambda c, t, k: disc_lib.complement_mix(c[None], t[None], k)[0][0])
    return mix(canvas, target, keys)
  return canvas


def real_input(config, images):
  """D's real examples from dataset images: x, the pair (x, x), or x (a mix of x with itself)."""
  if config.discriminator == "conditional":
    return jnp.concatenate([images, images], axis=-1)
  return images


def score(discriminator, config, d_params, inputs):
  """D's scores (B,) for inputs made by `discriminator_input` / `real_input`."""
  if config.discriminator == "conditional":
    channels = inputs.shape[-1] // 2
    return discriminator.apply(d_params, inputs[..., :channels], inputs[..., channels:])
  return discriminator.apply(d_params, inputs)


# Rewards.

def compute_rewards(discriminator, config, d_params, traj, key, axis_name=None):
  """Rewards (T, B) for a time-major trajectory batch, and metrics.

  `d_params` must already be normalised (spectral norm). Returns (rewards, info) with info's
  "l2" the mean squared error of each final render to its target (conditional agents) and
  "score" D's score of each final render.
  """
  num_steps, batch = traj.first.shape
  final = traj.final_canvas.astype(jnp.float32)
  keys = example_keys(key, batch, axis_name)
  info = {}
  conditional = traj.target is not None
  target = traj.target.astype(jnp.float32) if conditional else None
  if config.reward == "discriminator":
    score_fn = lambda canvas: score(discriminator, config, d_params,
                                    discriminator_input(config, canvas, target, keys))
  else:
    if not conditional:
      raise ValueError("The l2 reward needs targets: use a conditional agent.")
    score_fn = lambda canvas: rewards_lib.l2_reward(canvas, target)
  final_score = score_fn(final)
  if config.reward == "discriminator":
    info["score"] = final_score
  if config.temporal_credit:
    canvases = jnp.concatenate([traj.canvas.astype(jnp.float32), final[None]], axis=0)
    rewards = rewards_lib.temporal_credit(jax.lax.map(score_fn, canvases))
  else:
    rewards = rewards_lib.final_step(final_score, num_steps)
  rewards = config.reward_scale * rewards
  last = jnp.zeros((num_steps, 1)).at[-1].set(1.0)
  if config.new_stroke_cost:
    rewards += rewards_lib.new_stroke_penalty(traj.action[config.stroke_component] == 1,
                                              config.new_stroke_cost)
  if config.empty_canvas_cost:
    rewards += last * rewards_lib.empty_canvas_penalty(final, config.empty_canvas_cost)
  if config.colour_histogram_weight and conditional:
    rewards += last * rewards_lib.colour_histogram_penalty(final, target,
                                                           config.colour_histogram_weight)
  if conditional:
    info["l2"] = -rewards_lib.l2_reward(final, target)
  return jax.lax.stop_gradient(rewards), info


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


def policy_update(policy, discriminator, config, state, traj, key, axis_name=None):
  """One policy-learner step on a time-major trajectory batch: (new state, metrics)."""
  num_steps, batch = traj.first.shape
  key_reward = jax.random.fold_in(key, 0)
  d_params, _ = discriminator.normalize(state.d_params, state.sn_state)
  rewards, info = compute_rewards(discriminator, config, d_params, traj, key_reward, axis_name)
  target = None
  if policy.conditional:
    target = jnp.broadcast_to(traj.target[None], (num_steps,) + traj.target.shape)
  inputs = policy_lib.StepInputs(traj.canvas, traj.prev_action, traj.action_mask, traj.first,
                                 target)
  discounts = jnp.full((num_steps, batch), config.discount).at[-1].set(0.0)

  def loss_fn(params):
    output, _ = policy.unroll(params, inputs, traj.action, policy.initial_state(batch))
    kwargs = dict(baseline_cost=config.baseline_cost, entropy_cost=config.entropy_cost)
    bootstrap = jnp.zeros((batch,))
    if config.algorithm == "vtrace":
      out = losses.vtrace_loss(output.log_prob, traj.behaviour_log_prob, output.entropy,
                               output.value, rewards, discounts, bootstrap, **kwargs)
    else:
      out = losses.a2c_loss(output.log_prob, output.entropy, output.value, rewards, discounts,
                            bootstrap, **kwargs)
    return out.loss, (out, output)

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


def discriminator_update(discriminator, config, state, real, fake, key, axis_name=None):
  """One WGAN-GP step. `real` from `real_input`, `fake` from `discriminator_input` (B, ...)."""
  eps = jax.vmap(lambda k: jax.random.uniform(k))(example_keys(key, real.shape[0], axis_name))

  def loss_fn(d_params):
    params, sn_state = discriminator.normalize(d_params, state.sn_state)
    out = losses.wgan_gp_loss(lambda x: score(discriminator, config, params, x), real, fake,
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


def replay_item_shape(config, image_shape):
  """The shape of one replay item (see `replay_item`) for renders of image_shape (H, W, C)."""
  channels = image_shape[-1] * (1 if config.discriminator == "unconditional" else 2)
  return tuple(image_shape[:-1]) + (channels,)


def replay_item(config, traj):
  """What D's replay keeps of a batch-major trajectory batch: the final render, with its target on
  channels when D needs it (conditional and complement)."""
  if config.discriminator == "unconditional":
    return traj.final_canvas
  return np.concatenate([traj.final_canvas, traj.target], axis=-1)


def fake_input(config, items, key, axis_name=None):
  """D's fake examples from replay items (see `replay_item`)."""
  if config.discriminator == "unconditional":
    return items
  channels = items.shape[-1] // 2
  keys = example_keys(key, items.shape[0], axis_name)
  return discriminator_input(config, items[..., :channels], items[..., channels:], keys)


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
      real = real_input(config, real_images)
      fake = fake_input(config, fake_items, jax.random.fold_in(key, 1), AXIS)
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

  def update_policy(self, batch, key):
    self._check_batch(batch.first.shape[0])
    batch = host_to_global(batch, self.mesh, P(AXIS))
    self.state, metrics = self._policy_step(self.state, batch, self._replicated(key))
    return metrics

  def update_discriminator(self, real_images, fake_items, key):
    self._check_batch(real_images.shape[0])
    real = host_to_global(real_images, self.mesh, P(AXIS))
    fake = host_to_global(fake_items, self.mesh, P(AXIS))
    self.state, metrics = self._d_step(self.state, real, fake, self._replicated(key))
    return metrics

  def _replicated(self, x):
    return host_to_global(np.asarray(x), self.mesh, P())

  def policy_params(self):
    """This host's copy of the policy parameters (for actors)."""
    return jax.tree.map(lambda x: x.addressable_data(0), self.state.policy_params)

  def host_state(self):
    """The whole LearnerState as numpy (for checkpoints)."""
    return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), self.state)
