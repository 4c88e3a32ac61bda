"""Behaviour cloning's loop (not in the paper): the policy learns to write programs it is shown,
played through the real renderer (`spiral_jax.imitation`), in a training run's directory.
`experiments.imitate` runs it from the command line; `experiments.train` runs it as a main job's
first phase (config.imitation).

Two sources of programs (`setups.demonstrations`):
  * MuJoCo Scenes: the generated dataset's own programs. A thread records batches of
    demonstrations (random scenes of the training split's first `scenes`) while the main thread
    updates the policy.
  * the JAX painting renderer: random stroke programs shaped like handwriting
    (`environments.stroke_programs`), or programs traced from pictures' ink
    (`environments.traced_programs`), each with its picture as the target; their canvases and
    targets are rendered on the device.

Checkpoints every config.checkpoint_every_minutes and at the end (SIGTERM or Ctrl-C stops
cleanly). Counters: "updates" and "frames" count the cloning updates and the demonstration steps
they learnt from.
"""

import dataclasses
import functools
import os
import threading
import time
import traceback

import jax
import numpy as np
import tqdm

from experiments import setups
from spiral_jax import actor as actor_lib
from spiral_jax import checkpoint as checkpoint_lib
from spiral_jax import imitation
from spiral_jax import learner as learner_lib
from spiral_jax import metrics as metrics_lib
from spiral_jax import training


@dataclasses.dataclass(frozen=True)
class Cloning:
  """How a cloning run learns and when it stops (the flags, or a main job's `config.imitation`).

  updates, max_minutes: stop at the first reached (0 = no limit; at least one must be set for a
    main job's phase). learning_rate: Adam's; with `updates` and learning_rate_final < 1 it falls
    linearly to learning_rate * learning_rate_final over the updates. batch_size: demonstrations
    per update (0: the learner's batch size). noise, scenes: as the flags say. objective: "clone"
    (the demonstrated actions' likelihood) or "candidates" (every candidate of a search's
    programs, `imitation.candidate_loss`, against the policy that searched: config.init_from),
    with `clip` its ratio's range."""
  updates: int = 0
  max_minutes: float = 10.0
  learning_rate: float = 1e-3
  learning_rate_final: float = 1.0
  batch_size: int = 0
  noise: float = 0.0
  scenes: int = 49000
  log_every: int = 20
  objective: str = "clone"
  clip: float = 0.2

  def __post_init__(self):
    if not 1 <= self.scenes <= 49000:
      raise ValueError("scenes must be between 1 and 49000 (the scenes before the validation "
                       "scenes).")
    if not 0.0 <= self.noise <= 1.0:
      raise ValueError(f"noise is a probability in [0, 1], got {self.noise}.")
    if not 0.0 < self.learning_rate_final <= 1.0:
      raise ValueError("learning_rate_final is a fraction of the learning rate, in (0, 1]; got "
                       f"{self.learning_rate_final}.")
    if self.objective not in ("clone", "candidates"):
      raise ValueError(f"objective is 'clone' or 'candidates', got {self.objective!r}.")
    if not 0.0 < self.clip < 1.0:
      raise ValueError(f"clip is the ratio's range, in (0, 1); got {self.clip}.")
    if self.objective == "candidates" and self.noise:
      raise ValueError("The candidates objective learns on the searched episodes as they were: "
                       "noise must be 0.")
    if self.updates < 0 or self.max_minutes < 0 or self.batch_size < 0:
      raise ValueError("updates, max_minutes and batch_size must not be negative.")


def clone(config, traced, workdir, cloning: Cloning, resume=False):
  """Cloning updates into `workdir` (a training run's directory) until `cloning`'s limits or a
  signal; checkpoints on the way and at the end. `traced`: a file of traced programs for the JAX
  painting renderer, or the name of programs that ship (None: the set-up's own programs;
  `setups.demonstrations`). Returns the
  summary {"updates", "frames", "elapsed_s", "stopped_by_signal"}; ValueError for a set-up, a
  file or a run directory that cannot be used (the message says what to do)."""
  env_factory, programs = setups.demonstrations(config, traced)
  if cloning.objective == "candidates":
    if not getattr(programs, "has_candidates", False):
      raise ValueError("--objective=candidates learns from a search's candidates: give --traced="
                       "a file of `python -m experiments.trace_expert --expert=search --out=FILE`.")
    if not config.init_from:
      raise ValueError("--objective=candidates improves the agent that searched: give it as "
                       "--config.init_from.")
  checkpointer = checkpoint_lib.Checkpointer(os.path.join(workdir, "checkpoints"),
                                             config.checkpoints_to_keep)
  try:
    return _imitate(config, env_factory, programs, checkpointer, workdir, cloning, resume)
  finally:
    checkpointer.close()


def _imitate(config, env_factory, programs, checkpointer, workdir, cloning, resume):
  """Cloning updates until a limit or a signal; checkpoints on the way and at the end."""
  if not resume and checkpointer.latest_step() is not None:
    raise ValueError(f"{workdir} already holds a run: continue it with --resume or choose a new "
                     "--workdir.")
  setup = setups.make_setup(config, load_data=False)  # the networks need only the image shape
  policy, discriminator, learner_config = training.build_agent(config, setup)
  batch_size = cloning.batch_size or learner_config.batch_size
  decay = cloning.updates if cloning.updates and cloning.learning_rate_final < 1 else 0
  optimiser = learner_lib.policy_optimiser(dataclasses.replace(
      learner_config, policy_learning_rate=cloning.learning_rate,
      policy_learning_rate_decay_updates=decay,
      policy_learning_rate_final=cloning.learning_rate_final))
  state = learner_lib.init(policy, discriminator, learner_config,
                           jax.random.fold_in(jax.random.PRNGKey(config.seed), 0))
  if config.init_from and not resume:
    try:
      state = training.start_from(state, config.init_from, learner_config, workdir)
    except (OSError, checkpoint_lib.CheckpointError) as e:
      raise ValueError(str(e)) from None
  old_params = None
  if cloning.objective == "candidates":  # the policy that searched, for the ratios
    try:
      old_params = training.initialised_from(state, config.init_from,
                                             learner_config).policy_params
    except (OSError, checkpoint_lib.CheckpointError) as e:
      raise ValueError(str(e)) from None
  opt_state = optimiser.init(state.policy_params)
  counters = {"updates": 0, "frames": 0, "elapsed_s": 0.0}
  if resume and checkpointer.latest_step() is not None:
    try:
      restored, meta = checkpointer.restore({"learner": state, "cloning_opt_state": opt_state})
    except checkpoint_lib.CheckpointError as e:
      raise ValueError(str(e)) from None
    state, opt_state = restored["learner"], restored["cloning_opt_state"]
    counters.update({k: meta["counters"][k] for k in counters})
  if old_params is None:
    update = jax.jit(functools.partial(imitation.cloning_update, policy, optimiser))
  else:
    candidate_update = jax.jit(functools.partial(imitation.candidate_update, policy, optimiser,
                                                 cloning.clip))
    update = lambda p, o, batch: candidate_update(p, o, old_params, batch)
  loss_name = "cloning_loss" if old_params is None else "candidate_loss"
  writer = metrics_lib.MetricsWriter(workdir)
  seed = [config.seed, counters["updates"]]
  if env_factory is None:
    recorder = _DeviceRecorder(setup.functional_env, programs, policy, batch_size, cloning.noise,
                               seed, with_candidates=old_params is not None)
  else:
    recorder = _Recorder(env_factory, programs, policy, batch_size, cloning.scenes, cloning.noise,
                         seed)
  stop = threading.Event()
  restore_signals = training.stop_on_signals(stop)
  params = state.policy_params
  start, last_save, elapsed_before = time.monotonic(), time.monotonic(), counters["elapsed_s"]
  logged = []

  def save():
    counters["elapsed_s"] = elapsed_before + time.monotonic() - start
    meta = {"counters": dict(counters, cloning_updates=counters["updates"],
                             demonstration_frames=counters["frames"]),
            "config": config.to_dict(),
            "imitation": dict(dataclasses.asdict(cloning), batch_size=batch_size)}
    checkpointer.save(counters["updates"], {"learner": state._replace(policy_params=params),
                                            "cloning_opt_state": opt_state}, meta)

  bar = tqdm.tqdm(total=cloning.updates or None, initial=counters["updates"], unit="updates",
                  desc="cloning", disable=not config.progress, dynamic_ncols=True)
  try:
    while not stop.is_set():
      if cloning.updates and counters["updates"] >= cloning.updates:
        break
      if cloning.max_minutes and time.monotonic() - start >= 60 * cloning.max_minutes:
        break
      batch = recorder.get()
      params, opt_state, metrics = update(params, opt_state, batch)
      counters["updates"] += 1
      counters["frames"] += int(np.prod(batch.trajectory.first.shape))
      logged.append(metrics)
      bar.update(1)
      if counters["updates"] % cloning.log_every == 0:
        record = {name: float(np.mean([m[name] for m in logged])) for name in logged[0]}
        bar.set_postfix({"loss": f"{record[loss_name]:.3f}"}, refresh=False)
        record.update(updates=counters["updates"], frames=counters["frames"],
                      time_s=elapsed_before + time.monotonic() - start)
        writer.write(record)
        logged = []
      if time.monotonic() - last_save >= 60 * config.checkpoint_every_minutes:
        save()
        last_save = time.monotonic()
    if checkpointer.latest_step() != counters["updates"]:  # not just saved (a stop right after)
      save()
  finally:
    bar.close()
    recorder.close()
    writer.close()
    restore_signals()
  return {"updates": counters["updates"], "frames": counters["frames"],
          "elapsed_s": round(counters["elapsed_s"], 1), "stopped_by_signal": stop.is_set()}


class _Recorder:
  """A thread that records batches of demonstrations into a bounded feed."""

  def __init__(self, env_factory, programs, policy, batch_size, num_scenes, noise, seed, size=4):
    self._envs = [env_factory() for _ in range(batch_size)]
    self._programs, self._policy = programs, policy
    self._rng = np.random.default_rng(seed)
    self._num_scenes, self._batch_size, self._noise = num_scenes, batch_size, noise
    self._feed = actor_lib.Feed(size)
    self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
    self._thread.start()

  def _run(self):
    try:
      while not self._feed.stopped():
        indices = self._rng.integers(self._num_scenes, size=self._batch_size)
        actions, weights, played, targets = self._programs(indices, self._noise, self._rng)
        blank = np.zeros((self._batch_size,) + self._policy.canvas_shape, np.float32)
        traj = actor_lib.run_episodes(self._envs, self._policy, imitation.scripted_step(played),
                                      None, jax.random.PRNGKey(0), blank)
        # The policy is taught the program's actions on the canvases played; each program's
        # target is its scene's image.
        self._feed.put(imitation.Demonstrations(traj._replace(action=actions, target=targets),
                                                weights))
    except BaseException:  # pylint: disable=broad-except
      self._feed.fail(f"Recording demonstrations failed:\n{traceback.format_exc()}")
    finally:
      self._programs.close()

  def get(self):
    return self._feed.get()

  def close(self):
    self._feed.stop()
    self._thread.join(10.0)
    for env in self._envs:
      env.close()


class _DeviceRecorder:
  """Demonstrations for a renderer written in JAX: random programs drawn on the host, their
  canvases and targets rendered on the device in one jitted call per batch."""

  def __init__(self, functional_env, programs, policy, batch_size, noise, seed,
               with_candidates=False):
    self._programs, self._batch_size, self._noise = programs, batch_size, noise
    self._rng = np.random.default_rng(seed)
    self._rollout = jax.jit(functools.partial(imitation.scripted_rollout, functional_env, policy))
    self._with_candidates = with_candidates

  def get(self):
    candidates = None
    if self._with_candidates:
      actions, weights, played, target, candidates = self._programs(
          self._batch_size, self._noise, self._rng, with_candidates=True)
      candidates = imitation.Candidates(*candidates)
    else:
      actions, weights, played, target = self._programs(self._batch_size, self._noise, self._rng)
    # target: a traced program's picture, or None (random programs: what they draw); without
    # noise the programs are played as written, and what they draw is rendered once
    return imitation.Demonstrations(
        self._rollout(actions, played if self._noise else None, target), weights, candidates)

  def close(self):
    self._programs.close()
