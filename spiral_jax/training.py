"""The SPIRAL training system (paper section 3.4, Fig. 2b): actors, policy learner, discriminator
learner and replay, with checkpoints, metrics and pictures.

Two modes, one configuration (see `experiments/configs`):
  * "threaded": `num_actors` threads each run `envs_per_actor` dm_env environments and feed a
    bounded queue; the learner takes `batch_size` trajectories, updates the policy, adds the final
    renders to the replay, runs `discriminator_steps` WGAN-GP updates on replay samples and real
    images, and publishes its parameters. With `num_actors = 0` the learner runs the episodes
    itself: slower, but deterministic, so a resumed run is bit-identical to an uninterrupted one.
  * "anakin": for environments written in JAX; everything runs in one jitted function on device
    (`spiral_jax.anakin`), and is deterministic too.

All randomness is derived from (seed, counters), and every counter is in the checkpoint, so
`resume=True` continues a run where its last checkpoint left it.

`run()` knows environments only through a `Setup`: specs, a dm_env factory and/or a functional
(JAX) environment, and the real images.
"""

import dataclasses
import json
import os
import time
from typing import Any, Callable, Optional

import jax
import numpy as np
import tqdm

from spiral_jax import actor as actor_lib
from spiral_jax import anakin as anakin_lib
from spiral_jax import checkpoint as checkpoint_lib
from spiral_jax import learner as learner_lib
from spiral_jax import metrics as metrics_lib
from spiral_jax import pictures
from spiral_jax import replay as replay_lib
from spiral_jax import trajectory as trajectory_lib
from spiral_jax.data import images as images_lib
from spiral_jax.networks import discriminator as disc_lib
from spiral_jax.networks import policy as policy_lib


@dataclasses.dataclass
class Setup:
  """What a run needs from the outside world.

  observation_spec, action_spec: the environment's dm_env specs.
  episode_length: steps per episode (fixed).
  images: (N, H, W, C) float real images in [0, 1] at the canvas size (D's data; targets).
  env_factory: () -> dm_env.Environment, for the threaded mode.
  functional_env: an `anakin.FunctionalEnv`, for the Anakin mode.
  """
  observation_spec: Any
  action_spec: Any
  episode_length: int
  images: np.ndarray
  env_factory: Optional[Callable[[], Any]] = None
  functional_env: Optional[anakin_lib.FunctionalEnv] = None


def _config_dict(config, name):
  value = config.get(name, {}) if hasattr(config, "get") else getattr(config, name, {})
  return dict(value.to_dict() if hasattr(value, "to_dict") else value)


def build_agent(config, setup):
  """(policy, discriminator, LearnerConfig) from a run config and a Setup."""
  learner_config = learner_lib.LearnerConfig(**_config_dict(config, "learner"))
  conditional = learner_lib.is_conditional(learner_config)
  policy = policy_lib.Policy(setup.observation_spec, setup.action_spec,
                             policy_lib.PolicyConfig(**_config_dict(config, "policy")),
                             conditional=conditional, blind=bool(config.get("blind", False)))
  canvas_shape = tuple(setup.observation_spec["canvas"].shape)
  if tuple(setup.images.shape[1:]) != canvas_shape:
    raise ValueError(f"Real images have shape {setup.images.shape[1:]} but the canvas is "
                     f"{canvas_shape}: load the dataset at the canvas size and channels.")
  d_config = _config_dict(config, "discriminator")
  if "channels" in d_config:
    d_config["channels"] = tuple(d_config["channels"])
  discriminator = disc_lib.Discriminator(
      canvas_shape, disc_lib.DiscriminatorConfig(**d_config),
      conditional=learner_config.discriminator == "conditional")
  return policy, discriminator, learner_config


class _Clock:
  """Which periodic jobs are due."""

  def __init__(self, every_s):
    self.every_s = every_s
    self.last = time.monotonic()

  def due(self):
    if self.every_s is None or self.every_s <= 0:
      return False
    if time.monotonic() - self.last >= self.every_s:
      self.last = time.monotonic()
      return True
    return False


def _meta(config, counters):
  return {"counters": counters, "config": json.loads(config.to_json()) if hasattr(
      config, "to_json") else None}


def run(config, setup, workdir, resume=False):
  """Trains until max_frames / max_updates / max_minutes (whichever comes first).

  Writes to `workdir`: checkpoints/, metrics.jsonl, metrics.csv, tensorboard/, samples.png (or
  reconstructions.png) every `picture_every_minutes`, and at the end learning_curve.png. Returns
  a summary dict (frames, updates, frames_per_s, learner_wait_fraction, first and last l2 ...).
  """
  mode = config.get("mode", "threaded")
  if mode not in ("threaded", "anakin"):
    raise ValueError(f"mode must be 'threaded' or 'anakin', not {mode!r}.")
  os.makedirs(workdir, exist_ok=True)
  policy, discriminator, learner_config = build_agent(config, setup)
  seed = int(config.get("seed", 0))
  base_key = jax.random.PRNGKey(seed)
  fresh = learner_lib.init(policy, discriminator, learner_config, jax.random.fold_in(base_key, 0))
  checkpointer = checkpoint_lib.Checkpointer(os.path.join(workdir, "checkpoints"),
                                             int(config.get("checkpoints_to_keep", 3)))
  writer = metrics_lib.MetricsWriter(workdir) if jax.process_index() == 0 else None
  loop = _AnakinLoop if mode == "anakin" else _ThreadedLoop
  try:
    return loop(config, setup, workdir, policy, discriminator, learner_config, fresh, base_key,
                checkpointer, writer).train(resume)
  finally:
    checkpointer.close()
    if writer is not None:
      writer.close()


class _Loop:
  """What both modes share: budgets, metrics, checkpoints, pictures, the summary."""

  def __init__(self, config, setup, workdir, policy, discriminator, learner_config, fresh,
               base_key, checkpointer, writer):
    self.config, self.setup, self.workdir = config, setup, workdir
    self.policy, self.discriminator, self.learner_config = policy, discriminator, learner_config
    self.fresh, self.base_key = fresh, base_key
    self.checkpointer, self.writer = checkpointer, writer
    self.seed = int(config.get("seed", 0))
    self.images = images_lib.ImageSet(setup.images, seed=self.seed)
    self.conditional = learner_lib.is_conditional(learner_config)
    self.counters = {"frames": 0, "updates": 0, "episode_batches": 0, "elapsed_s": 0.0}
    self.history = []  # (frames, l2 or return) for the learning curve

  # Budgets.

  def _done(self, start):
    c, config = self.counters, self.config
    minutes = config.get("max_minutes", None)
    return ((config.get("max_frames", None) and c["frames"] >= config.max_frames)
            or (config.get("max_updates", None) and c["updates"] >= config.max_updates)
            or (minutes and time.monotonic() - start >= 60 * minutes))

  def _progress(self):
    total = self.config.get("max_frames", None)
    return tqdm.tqdm(total=total, initial=self.counters["frames"], unit="frames",
                     disable=not self.config.get("progress", True) or jax.process_index() != 0,
                     dynamic_ncols=True, smoothing=0.1)

  # Outputs.

  def _record(self, metrics, extra):
    record = {"frames": self.counters["frames"], "updates": self.counters["updates"],
              "time_s": self.counters["elapsed_s"] + time.monotonic() - self.start}
    record.update({name: float(value) for name, value in metrics.items()})
    record.update(extra)
    curve_value = record.get("l2", record.get("episode_return"))
    self.history.append((record["frames"], curve_value))
    if self.writer is not None:
      self.writer.write(record)
    return record

  def _save(self, state):
    self.checkpointer.save(self.counters["updates"], state, _meta(self.config, self.counters))

  def _restore(self, like):
    state, meta = self.checkpointer.restore(like)
    self.counters.update(meta["counters"])
    return state

  def _pictures(self, renders, targets):
    if jax.process_index() != 0:
      return
    if targets is not None:
      pictures.save_png(pictures.reconstructions(targets[:16], renders[:16]),
                        os.path.join(self.workdir, "reconstructions.png"))
    else:
      pictures.save_png(pictures.grid(renders[:32], 8, scale=2),
                        os.path.join(self.workdir, "samples.png"))

  def _finish(self, start, wait_s, loop_s):
    if jax.process_index() == 0:
      records = metrics_lib.read_jsonl(self.writer.jsonl_path) if self.writer else []
      key = "l2" if self.conditional else "episode_return"
      points = [(r["frames"], r[key]) for r in records if r.get(key) is not None]
      if points:
        pictures.learning_curve(*zip(*points), os.path.join(self.workdir, "learning_curve.png"),
                                title=f"{key} over training", y_label=key)
    values = [v for _, v in self.history if v is not None]
    summary = dict(self.counters)
    summary.update({
        "run_s": time.monotonic() - start,
        "frames_per_s": self.run_frames / max(loop_s, 1e-9),
        "learner_wait_fraction": wait_s / max(loop_s, 1e-9),
        "first": float(np.mean(values[:5])) if values else None,
        "last": float(np.mean(values[-5:])) if values else None,
    })
    return summary

  def _log_every(self):
    return int(self.config.get("log_every_updates", 1))


class _ThreadedLoop(_Loop):

  def train(self, resume):
    config, lc = self.config, self.learner_config
    learner = learner_lib.Learner(self.policy, self.discriminator, lc, self.fresh)
    processes = jax.process_count()
    if lc.batch_size % processes:
      raise ValueError(f"Batch size {lc.batch_size} does not split over {processes} hosts.")
    host_batch = lc.batch_size // processes
    replay = replay_lib.Replay(lc.replay_batches * host_batch,
                               learner_lib.replay_item_shape(lc, self.images.image_shape))
    if resume and self.checkpointer.latest_step() is not None:
      state = self._restore({"learner": learner.host_state(), "replay": replay.state()})
      learner = learner_lib.Learner(self.policy, self.discriminator, lc, state["learner"])
      replay.restore(state["replay"])
    store = actor_lib.ParamsStore(learner.policy_params())
    num_actors = int(config.get("num_actors", 0))
    envs_per_actor = int(config.get("envs_per_actor", 8))
    actor_key = jax.random.fold_in(jax.random.fold_in(self.base_key, 1), jax.process_index())
    target_fn = None
    if self.conditional:
      host = jax.process_index()
      target_fn = lambda actor, batch_index, n: self.images.batch(
          n, batch_index, stream=1000 * (host + 1) + actor)
    pool, envs, step_fn = None, None, None
    if num_actors > 0:
      pool = actor_lib.ActorPool(self.setup.env_factory, self.policy, store, num_actors,
                                 envs_per_actor, actor_key, target_fn,
                                 queue_size=int(config.get("queue_size", 8))).start()
    else:
      envs = [self.setup.env_factory() for _ in range(envs_per_actor)]
      step_fn = jax.jit(self.policy.step)

    pending = []
    start = self.start = time.monotonic()
    wait_s = loop_s = 0.0
    self.run_frames = 0
    checkpoint_clock = _Clock(60 * config.get("checkpoint_every_minutes", 10))
    picture_clock = _Clock(60 * config.get("picture_every_minutes", 2))
    checkpoint_every = config.get("checkpoint_every_updates", None)
    bar = self._progress()
    last = None
    try:
      while not self._done(start):
        t0 = time.monotonic()
        while sum(b.first.shape[0] for b in pending) < host_batch:
          if pool is not None:
            batch, _ = pool.get(timeout_s=config.get("actor_timeout_s", 600))
          else:
            index = self.counters["episode_batches"]
            params, _ = store.get()
            targets = None if target_fn is None else target_fn(0, index, len(envs))
            batch = actor_lib.run_episodes(envs, self.policy, step_fn, params,
                                           jax.random.fold_in(jax.random.fold_in(actor_key, 0),
                                                              index), targets)
            self.counters["episode_batches"] += 1
          pending.append(batch)
        t1 = time.monotonic()
        batch, pending = _take(pending, host_batch)
        update = self.counters["updates"]
        key = jax.random.fold_in(jax.random.fold_in(self.base_key, 2), update)
        metrics = learner.update_policy(batch, key)
        replay.add(learner_lib.replay_item(lc, batch))
        for j in range(lc.discriminator_steps):
          counter = update * lc.discriminator_steps + j
          real = self.images.batch(host_batch, counter, stream=1 + jax.process_index())
          fake = replay.sample(np.random.default_rng((self.seed, 2, jax.process_index(), counter)),
                               host_batch)
          metrics.update(learner.update_discriminator(real, fake, jax.random.fold_in(key, 1 + j)))
        store.publish(learner.policy_params())
        frames = trajectory_lib.num_steps(batch) * processes
        self.counters["frames"] += frames
        self.counters["updates"] += 1
        self.run_frames += frames
        t2 = time.monotonic()
        wait_s += t1 - t0
        loop_s += t2 - t0
        bar.update(frames)
        if self.counters["updates"] % self._log_every() == 0:
          record = self._record(jax.device_get(metrics), {
              "frames_per_s": self.run_frames / loop_s, "learner_wait_fraction": wait_s / loop_s,
              "learner_wait_s": wait_s, "learner_loop_s": loop_s,
              "queue_size": pool.qsize() if pool else 0})
          bar.set_postfix({k: f"{record[k]:.4g}" for k in ("l2", "d_loss", "frames_per_s")
                           if record.get(k) is not None}, refresh=False)
        last = batch
        if picture_clock.due():
          self._pictures(last.final_canvas, last.target)
        if checkpoint_clock.due() or (checkpoint_every and
                                      self.counters["updates"] % checkpoint_every == 0):
          self._save({"learner": learner.host_state(), "replay": replay.state()})
      self.counters["elapsed_s"] += time.monotonic() - start
      if self.checkpointer.latest_step() != self.counters["updates"]:
        self._save({"learner": learner.host_state(), "replay": replay.state()})
      if last is not None:
        self._pictures(last.final_canvas, last.target)
    finally:
      bar.close()
      if pool is not None:
        pool.stop()
      for env in envs or ():
        env.close()
    self.learner = learner
    self.replay = replay
    return self._finish(start, wait_s, loop_s)


def _take(pending, n):
  """The first n trajectories of a list of batches, and the rest (no trajectory is dropped)."""
  batch = jax.tree.map(lambda *xs: np.concatenate(xs), *pending)
  size = batch.first.shape[0]
  if size == n:
    return batch, []
  head = jax.tree.map(lambda x: x[:n], batch)
  tail = jax.tree.map(lambda x: x[n:], batch)
  return head, [tail]


class _AnakinLoop(_Loop):

  def train(self, resume):
    config, lc = self.config, self.learner_config
    if self.setup.functional_env is None:
      raise ValueError("Anakin mode needs an environment written in JAX (Setup.functional_env); "
                       "use mode='threaded' for dm_env renderers.")
    runner = anakin_lib.Anakin(self.setup.functional_env, self.policy, self.discriminator, lc,
                               self.images.images,
                               iterations_per_call=int(config.get("iterations_per_call", 1)))
    state = runner.init(self.fresh)
    if resume and self.checkpointer.latest_step() is not None:
      host = self._restore({"anakin": runner.host_state(state)})["anakin"]
      state = runner.to_device(host)
    key = jax.random.fold_in(self.base_key, 3)
    start = self.start = time.monotonic()
    eval_targets = None
    if self.conditional:
      eval_targets = self.images.images[np.arange(16) % len(self.images)]
    rollout = jax.jit(lambda params, key: anakin_lib.rollout(
        self.setup.functional_env, self.policy, params, key, 16,
        None if eval_targets is None else jax.numpy.asarray(eval_targets)))
    loop_s = 0.0
    self.run_frames = 0
    checkpoint_clock = _Clock(60 * config.get("checkpoint_every_minutes", 10))
    picture_clock = _Clock(60 * config.get("picture_every_minutes", 2))
    checkpoint_every = config.get("checkpoint_every_updates", None)
    bar = self._progress()
    try:
      while not self._done(start):
        t0 = time.monotonic()
        state, metrics = runner.run(state, key)
        metrics = jax.device_get(metrics)  # waits for the call; a few scalars
        frames = runner.frames_per_call()
        self.counters["frames"] += frames
        self.counters["updates"] += runner.iterations_per_call
        self.run_frames += frames
        loop_s += time.monotonic() - t0
        bar.update(frames)
        if self.counters["updates"] % self._log_every() < runner.iterations_per_call:
          record = self._record(metrics, {"frames_per_s": self.run_frames / loop_s,
                                          "learner_wait_fraction": 0.0})
          bar.set_postfix({k: f"{record[k]:.4g}" for k in ("l2", "d_loss", "frames_per_s")
                           if record.get(k) is not None}, refresh=False)
        if picture_clock.due():
          self._eval_pictures(rollout, state, eval_targets)
        if checkpoint_clock.due() or (checkpoint_every and
                                      self.counters["updates"] % checkpoint_every == 0):
          self._save({"anakin": runner.host_state(state)})
      self.counters["elapsed_s"] += time.monotonic() - start
      if self.checkpointer.latest_step() != self.counters["updates"]:
        self._save({"anakin": runner.host_state(state)})
      self._eval_pictures(rollout, state, eval_targets)
    finally:
      bar.close()
    self.state = runner.host_state(state)
    return self._finish(start, 0.0, loop_s)

  def _eval_pictures(self, rollout, state, targets):
    params = jax.tree.map(lambda x: x.addressable_data(0), state.learner.policy_params)
    traj = rollout(params, jax.random.PRNGKey(0))
    self._pictures(np.asarray(traj.final_canvas), targets)
