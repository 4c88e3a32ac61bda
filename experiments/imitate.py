"""Behaviour cloning (not in the paper): the policy learns to write programs it is shown, played
through the real renderer (`spiral_jax.imitation`). The run directory is a training run's:
`spiral-jax evaluate --workdir=DIR` measures it, `experiments.ship --workdir=DIR` ships it, and
`experiments.train --config.init_from=DIR` continues it with SPIRAL's reinforcement learning.

  python -m experiments.imitate --config=experiments/configs/mujoco_conditional.py:paper \
      --workdir=runs/scenes_bc --max_minutes=60           # --resume continues
  python -m experiments.imitate --config=experiments/configs/mnist_long.py \
      --workdir=runs/strokes_bc --max_minutes=60          # random stroke programs
  python -m experiments.imitate --config=experiments/configs/mnist_long.py \
      --workdir=runs/traced_bc --traced=runs/traced.npz   # programs traced from digits

Two sources of programs:
  * MuJoCo Scenes: the generated dataset's own programs. A thread records batches of
    demonstrations (random scenes of the training split's first --scenes) while the main thread
    updates the policy.
  * the JAX painting renderer (env.name "jax_paint"): random stroke programs shaped like
    handwriting (`environments.stroke_programs`), no dataset needed; their canvases and targets
    are rendered on the device. The agent learns to redraw pictures that strokes made, and paints
    digits or characters it never saw as such;
  * the same renderer with --traced=FILE: programs traced from pictures' ink
    (`experiments.trace_expert --out=FILE`), each with its picture as the target.

Checkpoints every config.checkpoint_every_minutes and at the end (SIGTERM or Ctrl-C stops
cleanly). Counters: "updates" and "frames" count the cloning updates and the demonstration steps
they learnt from. The last line printed is one JSON object.
"""

import functools
import json
import os
import dataclasses
import sys
import threading
import time
import traceback

from absl import app
from absl import flags
from absl import logging
import jax
import numpy as np
from ml_collections import config_flags

from experiments import setups
from spiral_jax import actor as actor_lib
from spiral_jax import checkpoint as checkpoint_lib
from spiral_jax import imitation
from spiral_jax import learner as learner_lib
from spiral_jax import metrics as metrics_lib
from spiral_jax import training

DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "configs", "mujoco_conditional.py")
FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", f"{DEFAULT_CONFIG}:small",
                                "An experiment config file and size.")
flags.DEFINE_string("workdir", "outputs/imitate", "The run directory.")
flags.DEFINE_bool("resume", False, "Continue from the newest checkpoint in --workdir.")
flags.DEFINE_integer("updates", 0, "Stop after this many cloning updates (0: no limit).")
flags.DEFINE_float("max_minutes", 10.0, "Stop after this many minutes of this call (0: no limit).")
flags.DEFINE_float("learning_rate", 1e-3, "Adam's learning rate.")
flags.DEFINE_integer("batch_size", 0, "Demonstrations per update (0: config.learner.batch_size).")
flags.DEFINE_integer("scenes", 49000, "Learn from the training split's first this many scenes "
                     "(scenes 49,000 on are the validation scenes).")
flags.DEFINE_float("noise", 0.0, "The share of demonstrated objects placed with one attribute "
                   "changed at random, or of strokes ending a cell off (the program goes on as "
                   "if it were right).")
flags.DEFINE_string("traced", None, "Painting only: learn from the programs traced from "
                    "pictures in this file (`python -m experiments.trace_expert --out=FILE`) "
                    "instead of random stroke programs.")
flags.DEFINE_integer("log_every", 20, "Write a metrics record every this many updates.")


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

  def __init__(self, functional_env, programs, policy, batch_size, noise, seed):
    self._programs, self._batch_size, self._noise = programs, batch_size, noise
    self._rng = np.random.default_rng(seed)
    self._rollout = jax.jit(functools.partial(imitation.scripted_rollout, functional_env, policy))

  def get(self):
    actions, weights, played, target = self._programs(self._batch_size, self._noise, self._rng)
    # target: a traced program's picture, or None (random programs: what they draw); without
    # noise the programs are played as written, and what they draw is rendered once
    return imitation.Demonstrations(
        self._rollout(actions, played if self._noise else None, target), weights)

  def close(self):
    self._programs.close()


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  config = FLAGS.config
  if not 1 <= FLAGS.scenes <= 49000:
    raise app.UsageError("--scenes must be between 1 and 49000 (the scenes before the "
                         "validation scenes).")
  if not 0.0 <= FLAGS.noise <= 1.0:
    raise app.UsageError(f"--noise is a probability in [0, 1], got {FLAGS.noise}.")
  try:
    env_factory, programs = setups.demonstrations(config, FLAGS.traced)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  checkpointer = checkpoint_lib.Checkpointer(os.path.join(FLAGS.workdir, "checkpoints"),
                                             config.checkpoints_to_keep)
  try:
    _imitate(config, env_factory, programs, checkpointer)
  finally:
    checkpointer.close()


def _imitate(config, env_factory, programs, checkpointer):
  """Cloning updates until a limit or a signal; checkpoints on the way and at the end."""
  if not FLAGS.resume and checkpointer.latest_step() is not None:
    raise app.UsageError(f"{FLAGS.workdir} already holds a run: continue it with --resume or "
                         "choose a new --workdir.")
  setup = setups.make_setup(config, load_data=False)  # the networks need only the image shape
  policy, discriminator, learner_config = training.build_agent(config, setup)
  batch_size = FLAGS.batch_size or learner_config.batch_size
  optimiser = learner_lib.policy_optimiser(
      dataclasses.replace(learner_config, policy_learning_rate=FLAGS.learning_rate))
  state = learner_lib.init(policy, discriminator, learner_config,
                           jax.random.fold_in(jax.random.PRNGKey(config.seed), 0))
  if config.init_from and not FLAGS.resume:
    try:
      state = training.start_from(state, config.init_from, learner_config, FLAGS.workdir)
    except (ValueError, OSError, checkpoint_lib.CheckpointError) as e:
      raise app.UsageError(str(e)) from None
  opt_state = optimiser.init(state.policy_params)
  counters = {"updates": 0, "frames": 0, "elapsed_s": 0.0}
  if FLAGS.resume:
    try:
      restored, meta = checkpointer.restore({"learner": state, "cloning_opt_state": opt_state})
    except checkpoint_lib.CheckpointError as e:
      raise app.UsageError(str(e)) from None
    state, opt_state = restored["learner"], restored["cloning_opt_state"]
    counters.update({k: meta["counters"][k] for k in counters})
  update = jax.jit(functools.partial(imitation.cloning_update, policy, optimiser))
  writer = metrics_lib.MetricsWriter(FLAGS.workdir)
  seed = [config.seed, counters["updates"]]
  if env_factory is None:
    recorder = _DeviceRecorder(setup.functional_env, programs, policy, batch_size, FLAGS.noise,
                               seed)
  else:
    recorder = _Recorder(env_factory, programs, policy, batch_size, FLAGS.scenes, FLAGS.noise,
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
            "imitation": {"learning_rate": FLAGS.learning_rate, "batch_size": batch_size,
                          "scenes": FLAGS.scenes, "noise": FLAGS.noise}}
    checkpointer.save(counters["updates"], {"learner": state._replace(policy_params=params),
                                            "cloning_opt_state": opt_state}, meta)

  try:
    while not stop.is_set():
      if FLAGS.updates and counters["updates"] >= FLAGS.updates:
        break
      if FLAGS.max_minutes and time.monotonic() - start >= 60 * FLAGS.max_minutes:
        break
      batch = recorder.get()
      params, opt_state, metrics = update(params, opt_state, batch)
      counters["updates"] += 1
      counters["frames"] += int(np.prod(batch.trajectory.first.shape))
      logged.append(metrics)
      if counters["updates"] % FLAGS.log_every == 0:
        record = {name: float(np.mean([m[name] for m in logged])) for name in logged[0]}
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
    recorder.close()
    writer.close()
    restore_signals()
  print(json.dumps({"updates": counters["updates"], "frames": counters["frames"],
                    "elapsed_s": round(counters["elapsed_s"], 1),
                    "stopped_by_signal": stop.is_set()}), file=sys.stdout)


if __name__ == "__main__":
  app.run(main)
