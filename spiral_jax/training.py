"""The SPIRAL training system (paper section 3.4, Fig. 2b): actors, policy learner, discriminator
learner and replay, with checkpoints, metrics and pictures.

Two modes, one configuration (a `spiral_jax.config.TrainingConfig`, built once from an
experiment config of `experiments/configs`), one learner iteration (`learner.iteration`):
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
(JAX) environment, and the real images. Both modes share one loop (`_Loop.train`): budgets,
clocks, the progress bar, metrics records, pictures and checkpoints; a mode supplies how it starts,
runs one call of learner iterations, and what its checkpoint holds.
"""

import dataclasses
import json
import os
import signal
import threading
import time
from typing import Any, Callable, Optional

import jax
import numpy as np
import tqdm

from spiral_jax import actor as actor_lib
from spiral_jax import anakin as anakin_lib
from spiral_jax import checkpoint as checkpoint_lib
from spiral_jax import config as config_lib
from spiral_jax import learner as learner_lib
from spiral_jax import metrics as metrics_lib
from spiral_jax import pictures
from spiral_jax import pretrained
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
  images: the real images at the canvas size (D's data; targets): a
    `spiral_jax.data.images.ImageSet` (large sets read when drawn), or (N, H, W, C) images in
    [0, 1] (float, or uint8 0-255) held in memory.
  env_factory: () -> dm_env.Environment, for the threaded mode.
  functional_env: an `anakin.FunctionalEnv`, for the Anakin mode.
  """
  observation_spec: Any
  action_spec: Any
  episode_length: int
  images: np.ndarray
  env_factory: Optional[Callable[[], Any]] = None
  functional_env: Optional[anakin_lib.FunctionalEnv] = None


def training_config(config) -> config_lib.TrainingConfig:
  """The frozen TrainingConfig of an experiment config (one already frozen is returned as is)."""
  if isinstance(config, config_lib.TrainingConfig):
    return config
  return config_lib.TrainingConfig.from_config(config)


def build_agent(config, setup):
  """(policy, discriminator, LearnerConfig) from a run config and a Setup."""
  config = training_config(config)
  learner_config = config.learner
  policy = policy_lib.Policy(setup.observation_spec, setup.action_spec, config.policy,
                             conditional=config.conditional, blind=config.blind)
  canvas_shape = tuple(setup.observation_spec["canvas"].shape)
  image_shape = tuple(images_lib.as_image_set(setup.images).image_shape)
  if image_shape != canvas_shape:
    raise ValueError(f"Real images have shape {image_shape} but the canvas is "
                     f"{canvas_shape}: load the dataset at the canvas size and channels.")
  discriminator = disc_lib.Discriminator(canvas_shape, config.discriminator,
                                         conditional=learner_config.kind.network_conditional)
  return policy, discriminator, learner_config


def initialised_from(fresh, source, learner_config):
  """`fresh` (a new LearnerState) with the networks of `source`: a training run's directory (its
  newest checkpoint's policy and discriminator) or an agent (a shipped name or an agent file; its
  policy, and its discriminator where the file carries one). Optimiser states start afresh. The
  policy may add the location branch's fine path, the glimpse or the branch's summary, which the
  source lacks (they start at zero), and it may be wider (larger torso_channels, fc_size or
  lstm_size; `policy.widened`): either way it starts by acting exactly as the source does.
  Raises ValueError naming the first parameters whose shapes differ when the networks do not
  match."""
  return _initialised_from(fresh, source, learner_config)[0]


LINEAGE_FILE = "lineage.json"


def start_from(fresh, source, learner_config, workdir):
  """`initialised_from`, for a new run in `workdir`: also writes its lineage record there (what
  the run builds on, so that its agent counts all of that training; see `lineage`)."""
  fresh, record = _initialised_from(fresh, source, learner_config)
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    metrics_lib.write_atomically(os.path.join(workdir, LINEAGE_FILE), json.dumps(record))
  return fresh


def lineage(workdir):
  """What a run started from (init_from), with the training it already had: {"source", "frames",
  "updates", "hours"} (the source's totals, its own sources included), or None for a run that
  started from fresh networks."""
  path = os.path.join(workdir, LINEAGE_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def totals(counters, earlier=None):
  """A run's training, its source's included: {"frames", "updates", "hours"} from the run's
  checkpoint counters plus `earlier`, its lineage record (see `lineage`; None when it started from
  fresh networks)."""
  earlier = earlier or {}
  return {"frames": int(counters.get("frames", 0)) + int(earlier.get("frames", 0)),
          "updates": int(counters.get("updates", 0)) + int(earlier.get("updates", 0)),
          "hours": round(float(counters.get("elapsed_s", 0.0)) / 3600
                         + float(earlier.get("hours", 0.0)), 3)}


def _initialised_from(fresh, source, learner_config):
  """initialised_from, and the source's lineage record (see `lineage`)."""
  if os.path.isdir(source):
    checkpointer = checkpoint_lib.Checkpointer(os.path.join(source, "checkpoints"), create=False)
    try:
      raw, meta = checkpointer.restore_raw()
    finally:
      checkpointer.close()
    learner = checkpoint_lib.learner_state_of(raw)
    parts = {"policy_params": learner["policy_params"], "d_params": learner["d_params"],
             "sn_state": learner["sn_state"]}
    record = totals(meta.get("counters", {}), lineage(source))
  else:
    agent = pretrained.load(source)
    info = agent.info or {}
    record = {"frames": int(info.get("frames", 0)), "updates": int(info.get("updates", 0)),
              "hours": float(info.get("hours", 0.0))}
    parts = {"policy_params": agent.params}
    if agent.discriminator is not None:  # the D it trained against, where the file carries it
      parts["d_params"] = agent.discriminator["d_params"]
      if agent.discriminator["sn_state"] is not None:
        parts["sn_state"] = agent.discriminator["sn_state"]
  try:
    parts["policy_params"] = policy_lib.widened(
        fresh.policy_params, _with_grown(fresh.policy_params, parts["policy_params"]))
  except ValueError as e:
    raise ValueError(_does_not_fit(source, "policy_params", str(e))) from None
  for name, tree in parts.items():
    _check_same_shapes(getattr(fresh, name), tree, source, name)
  parts = {name: jax.tree.map(np.asarray, tree) for name, tree in parts.items()}
  fresh = fresh._replace(**parts)
  return fresh._replace(
      policy_opt_state=learner_lib.policy_optimiser(learner_config).init(fresh.policy_params),
      d_opt_state=learner_lib.discriminator_optimiser(learner_config).init(fresh.d_params)), dict(
          source=source, **record)


def _with_grown(fresh_params, params):
  """`params` plus the fresh policy's modules that a source may lack because they start at zero,
  so that adding them leaves the agent as it was: the location branch's fine path, the glimpse,
  the branch's summary and the location feedback (`PolicyConfig.location_fine_channels`,
  `location_glimpse`, `branch_summary`, `location_feedback`)."""
  grown = {module: values for module, values in fresh_params.items()
           if module not in params and policy_lib.is_grown(module)}
  return {**params, **grown} if grown else params


def _check_same_shapes(like, tree, source, name):
  shapes = lambda t: {jax.tree_util.keystr(p): np.shape(x)
                      for p, x in jax.tree_util.tree_flatten_with_path(t)[0]}
  want, got = shapes(like), shapes(tree)
  differ = [f"{k}: {got.get(k, 'missing')} instead of {v}" for k, v in want.items()
            if got.get(k) != v] + [f"{k}: not in this run" for k in got if k not in want]
  if differ:
    raise ValueError(_does_not_fit(source, name, "; ".join(differ[:3])))


def _does_not_fit(source, name, why):
  return (f"init_from={source!r} does not fit this run's networks ({name}: {why}): start from a "
          "run or agent with the same canvas, action space and network sizes (or a narrower "
          "torso, fc layer and LSTM).")


def stop_on_signals(stop):
  """Makes SIGTERM and SIGINT (Ctrl-C) set `stop` instead of killing the run, so that it finishes
  the call under way, checkpoints and returns; a second signal has its usual effect. Returns a
  function that puts the previous handlers back. Outside the main thread (where Python cannot
  install handlers) it changes nothing."""
  if threading.current_thread() is not threading.main_thread():
    return lambda: None
  previous = {}

  def handler(signum, frame):
    if stop.is_set():
      signal.signal(signum, previous[signum])
      signal.raise_signal(signum)
      return
    stop.set()

  for signum in (signal.SIGTERM, signal.SIGINT):
    previous[signum] = signal.signal(signum, handler)

  def restore():
    for signum, old in previous.items():
      signal.signal(signum, old)
  return restore


def _budget(elapsed_s, total_s):
  """The progress bar's account of a time budget: "time 3:05/10:00, 6:55 left"."""
  clock = lambda t: f"{int(t) // 60}:{int(t) % 60:02d}"
  return f"time {clock(elapsed_s)}/{clock(total_s)}, {clock(max(total_s - elapsed_s, 0))} left"


class _Clock:
  """Whether a periodic job is due (never when every_s is 0)."""

  def __init__(self, every_s):
    self.every_s = every_s
    self.last = time.monotonic()

  def due(self):
    if self.every_s <= 0:
      return False
    if time.monotonic() - self.last >= self.every_s:
      self.last = time.monotonic()
      return True
    return False


def run(config, setup, workdir, resume=False, report=None, report_every_updates=0):
  """Trains until max_frames / max_updates / max_minutes (whichever comes first).

  `config`: an experiment config (ConfigDict or dict; validated into a TrainingConfig) or a
  TrainingConfig. Writes to `workdir`: checkpoints/, metrics.jsonl, metrics.csv, tensorboard/,
  samples.png (or reconstructions.png) every `picture_every_minutes`, and at the end
  learning_curve.png. Returns a summary dict (frames, updates, frames_per_s,
  learner_wait_fraction, first and last l2, stopped_by_signal ...).

  Called from the main thread, SIGTERM or SIGINT (Ctrl-C) stops the run cleanly: the call under
  way finishes, a checkpoint is written and run() returns (a second signal kills it at once).

  `report(metrics, checkpoint_dir)`, if given, is called every `report_every_updates` updates
  after a checkpoint is written: `metrics` holds the frames and updates so far and the mean of each
  logged figure since the last report; `checkpoint_dir` is that checkpoint's directory (a
  population-based trainer hands it on; see experiments/pbt.py).
  """
  config = training_config(config)
  policy, discriminator, learner_config = build_agent(config, setup)
  base_key = jax.random.PRNGKey(config.seed)
  fresh = learner_lib.init(policy, discriminator, learner_config, jax.random.fold_in(base_key, 0))
  if config.init_from and not resume:  # first: a source that does not fit leaves workdir as it was
    fresh = start_from(fresh, config.init_from, learner_config, workdir)
  os.makedirs(workdir, exist_ok=True)
  checkpointer = checkpoint_lib.Checkpointer(os.path.join(workdir, "checkpoints"),
                                             config.checkpoints_to_keep)
  if config.init_from and resume and checkpointer.latest_step() is None:
    fresh = start_from(fresh, config.init_from, learner_config, workdir)
  writer = metrics_lib.MetricsWriter(workdir) if jax.process_index() == 0 else None
  loop = _AnakinLoop if config.mode == "anakin" else _ThreadedLoop
  try:
    trainer = loop(config, setup, workdir, policy, discriminator, fresh, base_key, checkpointer,
                   writer)
    trainer.report, trainer.report_every = report, report_every_updates
    return trainer.train(resume)
  finally:
    checkpointer.close()
    if writer is not None:
      writer.close()


class _Loop:
  """The loop both modes share: budgets, clocks, progress, metrics, pictures, checkpoints and the
  summary. A mode implements `_start(resume)`, `_step()` (one call of learner iterations),
  `_state()` (what its checkpoint holds), `_latest_renders()`, and may add `_extra()` (its own
  fields of a metrics record) and `_stop()`."""

  def __init__(self, config, setup, workdir, policy, discriminator, fresh, base_key,
               checkpointer, writer):
    self.config, self.setup, self.workdir = config, setup, workdir
    self.policy, self.discriminator, self.learner_config = policy, discriminator, config.learner
    self.fresh, self.base_key = fresh, base_key
    self.checkpointer, self.writer = checkpointer, writer
    self.seed = config.seed
    self.images = images_lib.as_image_set(setup.images, seed=self.seed)
    self.conditional = config.conditional
    self.counters = {"frames": 0, "updates": 0, "episode_batches": 0, "elapsed_s": 0.0}
    self.history = []  # (frames, l2 or return) for the learning curve
    self.wait_s = self.loop_s = 0.0
    self.run_frames = 0
    self.stop_requested = threading.Event()  # set by SIGTERM / SIGINT: checkpoint and return
    self.report, self.report_every = None, 0  # see run()
    self.since_report = []  # records logged since the last report

  # What a mode provides.

  def _start(self, resume):
    raise NotImplementedError

  def _step(self):
    """One call of learner iterations: (frames, updates, metrics)."""
    raise NotImplementedError

  def _state(self):
    raise NotImplementedError

  def _latest_renders(self):
    """(final renders, targets or None) to show in the pictures, or None."""
    raise NotImplementedError

  def _extra(self):
    return {}

  def _stop(self):
    pass

  # The loop.

  def train(self, resume):
    config = self.config
    self._start(resume)
    if self.writer is not None:  # what was logged after the checkpoint is logged again
      self.writer.drop_after(self.counters["frames"])
    start = self.start = time.monotonic()
    self.elapsed_before = self.counters["elapsed_s"]  # training time of earlier sessions
    checkpoint_clock = _Clock(60 * config.checkpoint_every_minutes)
    picture_clock = _Clock(60 * config.picture_every_minutes)
    bar = tqdm.tqdm(total=config.max_frames or None, initial=self.counters["frames"],
                    unit="frames", disable=not config.progress or jax.process_index() != 0,
                    dynamic_ncols=True, smoothing=0.1)
    restore_signals = stop_on_signals(self.stop_requested)
    try:
      while not self._done(start):
        t0 = time.monotonic()
        frames, updates, metrics = self._step()
        self.counters["frames"] += frames
        self.counters["updates"] += updates
        self.run_frames += frames
        self.loop_s += time.monotonic() - t0
        bar.update(frames)
        if self.counters["updates"] % config.log_every_updates < updates:
          extra = {"frames_per_s": self.run_frames / self.loop_s,
                   "learner_wait_fraction": self.wait_s / self.loop_s, **self._extra()}
          record = self._record(jax.device_get(metrics), extra)
          bar.set_postfix({k: f"{record[k]:.4g}" for k in ("l2", "d_loss", "frames_per_s")
                           if record.get(k) is not None}, refresh=False)
          if config.max_minutes:
            bar.set_description_str(_budget(time.monotonic() - start, 60 * config.max_minutes),
                                    refresh=False)
        if picture_clock.due():
          self._pictures()
        checkpoint_every = config.checkpoint_every_updates
        if checkpoint_clock.due() or (checkpoint_every and
                                      self.counters["updates"] % checkpoint_every < updates):
          self._save()
        if self.report is not None and self.report_every and (
            self.counters["updates"] % self.report_every < updates):
          self._report()
      self._count_elapsed()
      if self.checkpointer.latest_step() != self.counters["updates"]:
        self._save()
      self._pictures()
    finally:
      restore_signals()
      bar.close()
      self._stop()
    return self._finish(start)

  def _done(self, start):
    c, config = self.counters, self.config
    return (self.stop_requested.is_set()
            or (config.max_frames and c["frames"] >= config.max_frames)
            or (config.max_updates and c["updates"] >= config.max_updates)
            or (config.max_minutes and time.monotonic() - start >= 60 * config.max_minutes))

  # Outputs.

  def _record(self, metrics, extra):
    record = {"frames": self.counters["frames"], "updates": self.counters["updates"],
              "time_s": self.elapsed_before + time.monotonic() - self.start}
    record.update({name: float(value) for name, value in metrics.items()})
    record.update(extra)
    curve_value = record.get("l2", record.get("episode_return"))
    self.history.append((record["frames"], curve_value))
    if self.report is not None:
      self.since_report.append(record)
    if self.writer is not None:
      self.writer.write(record)
    return record

  def _count_elapsed(self):
    self.counters["elapsed_s"] = self.elapsed_before + time.monotonic() - self.start

  def _save(self):
    # Every checkpoint carries the training time so far: a run killed after it resumes with it.
    self._count_elapsed()
    meta = {"counters": self.counters, "config": self.config.to_dict()}
    self.checkpointer.save(self.counters["updates"], self._state(), meta)

  def _report(self):
    if self.checkpointer.latest_step() != self.counters["updates"]:
      self._save()
    metrics = {"frames": self.counters["frames"], "updates": self.counters["updates"]}
    names = {k for r in self.since_report for k, v in r.items()
             if isinstance(v, (int, float)) and k not in metrics}
    for name in sorted(names):
      values = [r[name] for r in self.since_report if r.get(name) is not None]
      metrics[name] = float(np.mean(values)) if values else None
    self.since_report = []
    self.report(metrics, os.path.join(self.checkpointer.directory, str(self.counters["updates"])))

  def _restore(self, like):
    state, meta = self.checkpointer.restore(like)
    self.counters.update(meta["counters"])
    return state

  def _pictures(self):
    latest = self._latest_renders()
    if jax.process_index() != 0 or latest is None:
      return
    renders, targets = latest
    if targets is not None:
      pictures.save_png(pictures.reconstructions(targets[:16], renders[:16]),
                        os.path.join(self.workdir, "reconstructions.png"))
    else:
      pictures.save_png(pictures.grid(renders[:32], 8, scale=2),
                        os.path.join(self.workdir, "samples.png"))

  def _finish(self, start):
    if jax.process_index() == 0:
      records = metrics_lib.read_jsonl(self.writer.jsonl_path) if self.writer else []
      key = "l2" if self.conditional else "episode_return"
      points = [(r["frames"], r[key], r.get("time_s") or 0.0) for r in records
                if r.get(key) is not None]
      if points:
        frames, values, seconds = zip(*points)
        pictures.learning_curve(frames, values, os.path.join(self.workdir, "learning_curve.png"),
                                title=f"{key} over training", y_label=key, seconds=seconds)
    values = [v for _, v in self.history if v is not None]
    summary = dict(self.counters)
    summary.update({
        "run_s": time.monotonic() - start,
        "frames_per_s": self.run_frames / max(self.loop_s, 1e-9),
        "learner_wait_fraction": self.wait_s / max(self.loop_s, 1e-9),
        "first": float(np.mean(values[:5])) if values else None,
        "last": float(np.mean(values[-5:])) if values else None,
        "stopped_by_signal": self.stop_requested.is_set(),
    })
    return summary


class _ThreadedLoop(_Loop):
  """Actor threads (or, with num_actors 0, the learner's own thread) run dm_env episodes; the
  learner iterates on batches of them with a host replay."""

  def _start(self, resume):
    config, lc = self.config, self.learner_config
    learner = learner_lib.Learner(self.policy, self.discriminator, lc, self.fresh)
    processes = jax.process_count()
    if lc.batch_size % processes:
      raise ValueError(f"Batch size {lc.batch_size} does not split over {processes} hosts.")
    self.host_batch = lc.batch_size // processes
    replay = replay_lib.Replay(lc.replay_batches * self.host_batch,
                               disc_lib.replay_item_shape(lc.kind, self.images.image_shape))
    if resume and self.checkpointer.latest_step() is not None:
      state = self._restore({"learner": learner.host_state(), "replay": replay.state()})
      learner = learner_lib.Learner(self.policy, self.discriminator, lc, state["learner"])
      replay.restore(state["replay"])
    self.learner, self.replay = learner, replay
    self.store = actor_lib.ParamsStore(learner.policy_params())
    self.actor_key = jax.random.fold_in(jax.random.fold_in(self.base_key, 1),
                                        jax.process_index())
    self.target_fn = None
    if self.conditional:
      host = jax.process_index()
      self.target_fn = lambda actor, batch_index, n: self.images.batch(
          n, batch_index, stream=1000 * (host + 1) + actor)
    self.pool, self.envs, self.step_fn = None, None, None
    if config.num_actors > 0:
      self.pool = actor_lib.ActorPool(self.setup.env_factory, self.policy, self.store,
                                      config.num_actors, config.envs_per_actor, self.actor_key,
                                      self.target_fn, queue_size=config.queue_size,
                                      env_timeout_s=config.env_timeout_s).start()
    else:
      self.envs = [self.setup.env_factory() for _ in range(config.envs_per_actor)]
      self.step_fn = jax.jit(self.policy.step)
    self.pending = []
    self.last = None

  def _episodes(self):
    """Batches of episodes until host_batch trajectories wait; the time spent waiting."""
    t0 = time.monotonic()
    while sum(b.first.shape[0] for b in self.pending) < self.host_batch:
      if self.pool is not None:
        batch, _ = self.pool.get(timeout_s=self.config.actor_timeout_s or None)
      else:
        index = self.counters["episode_batches"]
        params, _ = self.store.get()
        targets = None if self.target_fn is None else self.target_fn(0, index, len(self.envs))
        key = jax.random.fold_in(jax.random.fold_in(self.actor_key, 0), index)
        batch = actor_lib.run_episodes(self.envs, self.policy, self.step_fn, params, key,
                                       targets)
        self.counters["episode_batches"] += 1
      self.pending.append(batch)
    return time.monotonic() - t0

  def _step(self):
    lc, process = self.learner_config, jax.process_index()
    self.wait_s += self._episodes()
    batch, self.pending = _take(self.pending, self.host_batch)
    update = self.counters["updates"]
    key = jax.random.fold_in(jax.random.fold_in(self.base_key, 2), update)
    counter = lambda j: update * lc.discriminator_steps + j

    def add(replay, items):
      replay.add(items)
      return replay

    ops = learner_lib.IterationOps(
        update_policy=lambda state, traj: self.learner.policy_step(state, traj, key),
        add=add,
        sample_real=lambda j: self.images.batch(self.host_batch, counter(j), stream=1 + process),
        sample_fake=lambda replay, j: replay.sample(
            np.random.default_rng((self.seed, 2, process, counter(j))), self.host_batch),
        update_discriminator=lambda state, real, fake, j: self.learner.discriminator_step(
            state, real, fake, jax.random.fold_in(key, 1 + j)))
    self.learner.state, _, metrics = learner_lib.iteration(ops, lc, self.learner.state,
                                                           self.replay, batch)
    self.store.publish(self.learner.policy_params())
    self.last = batch
    return trajectory_lib.num_steps(batch) * jax.process_count(), 1, metrics

  def _extra(self):
    return {"learner_wait_s": self.wait_s, "learner_loop_s": self.loop_s,
            "queue_size": self.pool.qsize() if self.pool else 0}

  def _state(self):
    return {"learner": self.learner.host_state(), "replay": self.replay.state()}

  def _latest_renders(self):
    return None if self.last is None else (self.last.final_canvas, self.last.target)

  def _stop(self):
    if getattr(self, "pool", None) is not None:
      self.pool.stop()
    for env in getattr(self, "envs", None) or ():
      env.close()


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
  """The whole iteration in one jitted call (`spiral_jax.anakin`), for JAX renderers."""

  def _start(self, resume):
    if self.setup.functional_env is None:
      raise ValueError("Anakin mode needs an environment written in JAX (Setup.functional_env); "
                       "use mode='threaded' for dm_env renderers.")
    self.runner = anakin_lib.Anakin(self.setup.functional_env, self.policy, self.discriminator,
                                    self.learner_config, self.images,
                                    iterations_per_call=self.config.iterations_per_call)
    self.state = self.runner.init(self.fresh)
    if resume and self.checkpointer.latest_step() is not None:
      host = self._restore({"anakin": self.runner.host_state(self.state)})["anakin"]
      self.state = self.runner.to_device(host)
    self.key = jax.random.fold_in(self.base_key, 3)
    self.eval_targets = None
    if self.conditional:
      self.eval_targets = self.images.first(16)
    targets = None if self.eval_targets is None else jax.numpy.asarray(self.eval_targets)
    self.rollout = jax.jit(lambda params, key: anakin_lib.rollout(
        self.setup.functional_env, self.policy, params, key, 16, targets))

  def _step(self):
    self.state, metrics = self.runner.run(self.state, self.key)
    metrics = jax.device_get(metrics)  # waits for the call; a few scalars
    return self.runner.frames_per_call(), self.runner.iterations_per_call, metrics

  def _state(self):
    return {"anakin": self.runner.host_state(self.state)}

  def _latest_renders(self):
    params = jax.tree.map(lambda x: x.addressable_data(0), self.state.learner.policy_params)
    traj = self.rollout(params, jax.random.PRNGKey(0))
    return np.asarray(traj.final_canvas), self.eval_targets
