"""Anakin: the whole SPIRAL loop in one jitted function, for renderers written in JAX.

One iteration, on every device for its slice of the batch (`shard_map` over the "batch" axis):
reset a batch of environments (vmap), `lax.scan` over the episode (policy sample -> env step),
then the learner iteration of the threaded system (`learner.iteration`): score the final renders
and update the policy, add the renders to an on-device replay (`replay.ring_add`), and update the
discriminator on replay samples and real images. Gradients are averaged over devices; nothing
returns to the host but a few scalar metrics, and `iterations_per_call` iterations run per call.
The real images (targets and D's data) come with each call: the host draws them from an `ImageSet`
(deterministically, from the iteration count), so datasets of any size train in bounded memory.

The environment is given functionally (gymnax style), unbatched:
  reset(key) -> (env_state, timestep), step(key, env_state, action) -> (env_state, timestep)
with dm_env-style timesteps of arrays whose observation holds "canvas" (and optionally
"action_mask"). Episodes must last exactly `episode_length` steps.
"""

import functools
from typing import Callable, NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from spiral_jax import learner as learner_lib
from spiral_jax import replay as replay_lib
from spiral_jax import trajectory as trajectory_lib
from spiral_jax.data import images as images_lib
from spiral_jax.networks import discriminator as disc_lib

AXIS = learner_lib.AXIS


class FunctionalEnv(NamedTuple):
  reset: Callable  # key -> (state, timestep)
  step: Callable  # (key, state, action) -> (state, timestep)
  episode_length: int
  # Optional, for learners that use the renderer's gradients: (key, state, action, relaxed) ->
  # (state, timestep), `step` with the stroke's parameters taken from `relaxed` (a vector over
  # each component's values, as `Policy.relaxed_step` gives), differentiable in them.
  relaxed_step: Optional[Callable] = None


class AnakinState(NamedTuple):
  learner: learner_lib.LearnerState
  replay: jnp.ndarray  # (devices * capacity, H, W, C'): each device's own ring of replay items
  replay_size: jnp.ndarray  # (devices,) int32
  iteration: jnp.ndarray  # int32


def rollout(env: FunctionalEnv, policy, params, key: chex.PRNGKey, batch_size: int,
            targets: Optional[chex.Array] = None, greedy: bool = False,
            temperature: Optional[float] = None) -> trajectory_lib.Trajectory:
  """Runs `batch_size` episodes; returns a time-major Trajectory batch (T, B, ...).

  greedy: the policy takes its most likely actions instead of sampling.
  temperature: sample as `Policy.relaxed_step` does and render with `env.relaxed_step`, so that
    the final canvas is differentiable in `params` through the renderer (the same actions as
    without; the policy's inputs are held constant).
  """
  if temperature is not None and env.relaxed_step is None:
    raise ValueError("This environment has no relaxed_step: it cannot pass gradients back.")
  reset_keys = jax.random.split(jax.random.fold_in(key, 0), batch_size)
  env_state, timestep = jax.vmap(env.reset)(reset_keys)
  lstm = policy.initial_state(batch_size)
  prev_action = policy.zero_action((batch_size,))
  first = jnp.ones((batch_size,), bool)

  def body(carry, t):
    env_state, timestep, lstm, prev_action, first = carry
    observation = timestep.observation
    if temperature is not None:
      observation = jax.lax.stop_gradient(observation)
    inputs = policy.inputs(observation, prev_action, first, targets)
    step_key = jax.random.fold_in(key, t + 1)
    env_keys = jax.random.split(jax.random.fold_in(step_key, 1), batch_size)
    if temperature is None:
      actions, output, lstm = policy.step(params, jax.random.fold_in(step_key, 0), inputs, lstm,
                                          greedy)
      env_state, next_timestep = jax.vmap(env.step)(env_keys, env_state, actions)
    else:
      actions, relaxed, output, lstm = policy.relaxed_step(
          params, jax.random.fold_in(step_key, 0), inputs, lstm, temperature)
      env_state, next_timestep = jax.vmap(env.relaxed_step)(env_keys, env_state, actions,
                                                            relaxed)
    record = (observation["canvas"], prev_action, inputs.action_mask, first, actions,
              output.log_prob)
    return (env_state, next_timestep, lstm, actions, jnp.zeros_like(first)), record

  carry, records = jax.lax.scan(body, (env_state, timestep, lstm, prev_action, first),
                                jnp.arange(env.episode_length))
  canvas, prev, mask, firsts, actions, log_probs = records
  return trajectory_lib.Trajectory(
      canvas=canvas, prev_action=prev, action_mask=mask, first=firsts, action=actions,
      behaviour_log_prob=log_probs, final_canvas=carry[1].observation["canvas"],
      target=targets)


class Anakin:
  """Builds and runs the jitted Anakin iteration.

  Args:
    env: a FunctionalEnv.
    policy, discriminator: the networks; config: a LearnerConfig.
    images: the real images: an `ImageSet`, or (N, H, W, C) images in [0, 1] (see
      `images.as_image_set`); each call draws what its iterations need.
    devices: the mesh's devices (default all).
    iterations_per_call: iterations per jitted call.
  """

  def __init__(self, env, policy, discriminator, config, images, devices=None,
               iterations_per_call=1):
    self.env, self.policy, self.discriminator, self.config = env, policy, discriminator, config
    self.mesh = learner_lib.make_mesh(devices)
    self.num_devices = self.mesh.devices.size
    if config.batch_size % self.num_devices:
      raise ValueError(f"Batch size {config.batch_size} does not split over {self.num_devices} "
                       "devices: make it a multiple of the device count.")
    self.local_batch = config.batch_size // self.num_devices
    self.capacity = config.replay_batches * self.local_batch  # per device
    self.iterations_per_call = iterations_per_call
    self.conditional = learner_lib.is_conditional(config)
    self.images = images_lib.as_image_set(images)
    self.image_shape = tuple(self.images.image_shape)
    # Per device and iteration: the targets (conditional), then each D step's real images.
    self.images_per_iteration = (int(self.conditional) + config.discriminator_steps) * \
        self.local_batch
    self.local_devices = sum(d.process_index == jax.process_index()
                             for d in self.mesh.devices.flat)
    self.item_shape = disc_lib.replay_item_shape(config.kind, self.image_shape)
    smap = functools.partial(jax.shard_map, mesh=self.mesh, check_vma=False)
    self._run = jax.jit(smap(self._run_local, in_specs=(self._state_spec(), P(), P(None, AXIS)),
                             out_specs=(self._state_spec(), P())), donate_argnums=0)

  def _state_spec(self):
    return AnakinState(learner=P(), replay=P(AXIS), replay_size=P(AXIS), iteration=P())

  def init(self, learner_state):
    """An AnakinState around a LearnerState (from `learner.init` or a checkpoint)."""
    state = AnakinState(
        learner=jax.device_get(learner_state),
        replay=np.zeros((self.num_devices * self.capacity,) + self.item_shape, np.float32),
        replay_size=np.zeros((self.num_devices,), np.int32), iteration=np.int32(0))
    return self.to_device(state)

  def to_device(self, host_state):
    return AnakinState(
        learner=learner_lib.host_to_global(host_state.learner, self.mesh, P()),
        replay=learner_lib.host_to_global(host_state.replay, self.mesh, P(AXIS)),
        replay_size=learner_lib.host_to_global(host_state.replay_size, self.mesh, P(AXIS)),
        iteration=learner_lib.host_to_global(host_state.iteration, self.mesh, P()))

  def host_images(self, iteration):
    """This host's real images for the call starting at `iteration`: (iterations_per_call,
    local devices * images_per_iteration, H, W, C), drawn from (seed, iteration, host)."""
    n = self.local_devices * self.images_per_iteration
    return np.stack([self.images.batch(n, iteration + k, stream=10 + jax.process_index())
                     for k in range(self.iterations_per_call)])

  def _iteration(self, state, base_key, images):
    """One iteration on this device; images: (images_per_iteration, H, W, C)."""
    config, b = self.config, self.local_batch
    key = jax.random.fold_in(base_key, state.iteration)
    device_key = jax.random.fold_in(key, jax.lax.axis_index(AXIS))
    targets = None
    first_real = 0
    if self.conditional:
      targets, first_real = images[:b], b
    traj = rollout(self.env, self.policy, state.learner.policy_params,
                   jax.random.fold_in(device_key, 1), b, targets)
    d_key = lambda j: jax.random.fold_in(device_key, 10 + j)

    def update_discriminator(learner, real_images, fake_items, j):
      keys = learner_lib.example_keys(jax.random.fold_in(key, 20 + j), b, AXIS)
      return learner_lib.discriminator_update(
          self.discriminator, config, learner, config.kind.real(real_images),
          config.kind.fake_from_items(fake_items, keys), jax.random.fold_in(key, 30 + j), AXIS)

    # The replay: a ring of whole batches, so the write position is the iteration modulo size.
    slot = (state.iteration % config.replay_batches) * b
    pathwise = None
    if config.pathwise_cost:
      # The same episodes again, differentiable in the parameters through the renderer.
      pathwise = lambda params: rollout(
          self.env, self.policy, params, jax.random.fold_in(device_key, 1), b, targets,
          temperature=config.pathwise_temperature).final_canvas
    ops = learner_lib.IterationOps(
        update_policy=lambda learner, traj: learner_lib.policy_update(
            self.policy, self.discriminator, config, learner, traj, jax.random.fold_in(key, 2),
            AXIS, pathwise),
        add=lambda ring, items: replay_lib.ring_add(*ring, items, slot),
        sample_real=lambda j: images[first_real + j * b:first_real + (j + 1) * b],
        sample_fake=lambda ring, j: replay_lib.ring_sample(
            ring[0], ring[1][0], jax.random.fold_in(d_key(j), 0), b),
        update_discriminator=update_discriminator)
    learner, (replay, replay_size), metrics = learner_lib.iteration(
        ops, config, state.learner, (state.replay, state.replay_size), traj)
    return AnakinState(learner, replay, replay_size, state.iteration + 1), metrics

  def _run_local(self, state, key, images):
    # A Python loop, unrolled into the trace: under a lax.scan XLA:CPU runs the discriminator's
    # conv gradients about 5x slower (measured: 625 vs 121 ms an iteration, small config).
    history = []
    for k in range(self.iterations_per_call):
      state, metrics = self._iteration(state, key, images[k])
      history.append(metrics)
    return state, jax.tree.map(lambda *xs: jnp.mean(jnp.stack(xs)), *history)

  def run(self, state, key):
    """`iterations_per_call` iterations: (new state, metrics averaged over them)."""
    iteration = int(jax.device_get(state.iteration.addressable_data(0)))
    images = learner_lib.host_to_global(self.host_images(iteration), self.mesh, P(None, AXIS))
    return self._run(state, learner_lib.host_to_global(np.asarray(key), self.mesh, P()), images)

  def frames_per_call(self):
    return self.iterations_per_call * self.config.batch_size * self.env.episode_length

  def host_state(self, state):
    """The state as numpy on this host (for checkpoints; the replay of local devices only)."""
    local = lambda x: np.asarray(x.addressable_data(0))
    gather = lambda x: np.concatenate([np.asarray(s.data) for s in x.addressable_shards])
    return AnakinState(learner=jax.tree.map(local, state.learner), replay=gather(state.replay),
                       replay_size=gather(state.replay_size), iteration=local(state.iteration))
