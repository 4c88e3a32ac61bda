"""End-to-end training throughput of the small conditional configs:

  * Anakin: the JAX renderer, policy and both updates in one jitted loop (MNIST);
  * threaded: libmypaint environments in actor threads feeding the learner through the queue;
  * mujoco_scenes: MuJoCo Scenes environments in actor threads (the small scene config);
  * mujoco_long: the same with the paper's scene set-up as the shipped agent trains it
    (`mujoco_long.py`: 64x64 renders, 16x16 grid, 20 steps, the location heads' branch).

Each runs for about --seconds (a minute by default) of training after a warm-up that is not
counted (compilation). Frames/s are measured over the run's metrics records after the warm-up;
the learner's wait fraction is the share of its loop time spent waiting for trajectories over the
same window (`learner_wait_fraction_with_startup` also counts the start, when the learner waits for
the actors' first episodes).

  OMP_NUM_THREADS=1 python -m benchmarks.training_throughput [--seconds 60] \
      [--modes=anakin,libmypaint,mujoco_scenes,mujoco_long]

Where the time goes, for MuJoCo Scenes: the learner's busy time per update (its loop time less its
waits, over the updates) and, measured alone in this process after the run, the environment's time
per frame (one environment stepping random valid actions: mostly the renderer) and one actor's
(its environments in lockstep with the policy choosing their actions, batched).

The last line is one JSON object: anakin_frames_per_s, libmypaint_frames_per_s,
learner_wait_fraction, mujoco_frames_per_s, mujoco_learner_wait_fraction,
mujoco_learner_busy_ms_per_update, mujoco_env_ms_per_frame, mujoco_actor_ms_per_frame, the same
prefixed mujoco_long_ for the paper's set-up (those of the modes run), and the settings used.
"""

import json
import os
import tempfile

from absl import app
from absl import flags
from absl import logging
import jax

from experiments import setups
from experiments.configs import mnist_conditional
from experiments.configs import mnist_libmypaint
from experiments.configs import mujoco_conditional
from experiments.configs import mujoco_long
from spiral_jax import host_memory
from spiral_jax import metrics as metrics_lib
from spiral_jax import training

FLAGS = flags.FLAGS
flags.DEFINE_float("seconds", 60.0, "Seconds of measured training per mode.")
flags.DEFINE_float("warmup_seconds", 20.0, "Seconds of training not counted (compilation).")
flags.DEFINE_integer("num_actors", None, "Actor threads in the threaded mode (default: config's).")
flags.DEFINE_integer("envs_per_actor", None, "Environments per actor (default: config's).")
flags.DEFINE_list("modes", ["anakin", "libmypaint"],
                  "Which of anakin, libmypaint, mujoco_scenes, mujoco_long.")


def measure(config):
  config.max_minutes = (FLAGS.seconds + FLAGS.warmup_seconds) / 60.0
  config.progress = False
  config.log_every_updates = 1
  config.picture_every_minutes = 0.0
  config.checkpoint_every_minutes = 0.0
  with tempfile.TemporaryDirectory() as workdir:
    summary = training.run(config, setups.make_setup(config), workdir)
    records = metrics_lib.read_jsonl(os.path.join(workdir, "metrics.jsonl"))
  warm = [r for r in records if r["time_s"] >= FLAGS.warmup_seconds] or records[-2:]
  first, last = warm[0], warm[-1]
  fps = (last["frames"] - first["frames"]) / max(last["time_s"] - first["time_s"], 1e-9)
  wait = busy_ms = None
  if "learner_wait_s" in last:
    loop = max(last["learner_loop_s"] - first["learner_loop_s"], 1e-9)
    waited = last["learner_wait_s"] - first["learner_wait_s"]
    wait = waited / loop
    busy_ms = 1000 * (loop - waited) / max(last["updates"] - first["updates"], 1)
  return fps, wait, summary, busy_ms


def actor_ms_per_frame(config, batches=5):
  """One actor alone (its envs_per_actor environments in lockstep, the policy choosing their
  actions, batched): ms per frame, after a warm-up batch (compilation)."""
  import time  # pylint: disable=import-outside-toplevel
  from spiral_jax import actor as actor_lib  # pylint: disable=import-outside-toplevel
  config.data.limit = config.envs_per_actor
  setup = setups.make_setup(config)
  policy, _, _ = training.build_agent(config, setup)
  params = policy.init(jax.random.PRNGKey(0))
  envs = [setup.env_factory() for _ in range(config.envs_per_actor)]
  step_fn = jax.jit(policy.step)
  targets = setup.images.first(config.envs_per_actor) if policy.conditional else None
  run = lambda i: actor_lib.run_episodes(envs, policy, step_fn, params,
                                         jax.random.PRNGKey(i), targets)
  run(0)
  start = time.perf_counter()
  frames = sum(int(run(i + 1).first.size) for i in range(batches))
  elapsed = time.perf_counter() - start
  for env in envs:
    getattr(env, "close", lambda: None)()
  return 1000 * elapsed / frames


def env_ms_per_frame(config, frames=2000):
  """One environment of the config stepping random valid actions, alone: ms per frame."""
  import time  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  from spiral_jax import specs  # pylint: disable=import-outside-toplevel
  env = setups.make_setup(config, load_data=False).env_factory()
  rng = np.random.default_rng(0)
  components = specs.components(env.action_spec())

  def random_action():
    return {c.name: (rng.integers(c.grid) if c.is_location else rng.integers(c.num_values))
            for c in components}

  env.reset()
  start, steps = time.perf_counter(), 0
  while steps < frames:
    if env.step(random_action()).last():
      env.reset()
    steps += 1
  elapsed = time.perf_counter() - start
  getattr(env, "close", lambda: None)()
  return 1000 * elapsed / frames


def _actors_from_flags(config):
  """A threaded config with --num_actors and --envs_per_actor where given."""
  config.num_actors = FLAGS.num_actors or config.num_actors
  config.envs_per_actor = FLAGS.envs_per_actor or config.envs_per_actor
  return config


def _scene_figures(prefix, config):
  """Throughput and where the time goes for one MuJoCo Scenes config, keys prefixed."""
  fps, wait, _, busy_ms = measure(config)
  figures = {
      "frames_per_s": round(fps, 1),
      "learner_wait_fraction": round(wait, 3),
      "learner_busy_ms_per_update": round(busy_ms, 1),
      "env_ms_per_frame": round(env_ms_per_frame(config), 3),
      "actor_ms_per_frame": round(actor_ms_per_frame(config), 3),
      "frames_per_update": config.learner.batch_size * config.env.kwargs["episode_length"],
      "num_actors": config.num_actors,
      "envs_per_actor": config.envs_per_actor}
  return {f"{prefix}_{key}": value for key, value in figures.items()}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  modes = ("anakin", "libmypaint", "mujoco_scenes", "mujoco_long")
  unknown = set(FLAGS.modes) - set(modes)
  if unknown:
    raise app.UsageError(f"Unknown modes {sorted(unknown)}: {', '.join(modes)}.")
  anakin_config = mnist_conditional.get_config("small")
  result = {}
  if "anakin" in FLAGS.modes:
    result["anakin_frames_per_s"] = round(measure(anakin_config)[0], 1)
  if "libmypaint" in FLAGS.modes:
    threaded_config = _actors_from_flags(mnist_libmypaint.get_config("small"))
    threaded_fps, wait, summary, _ = measure(threaded_config)
    result.update({
        "libmypaint_frames_per_s": round(threaded_fps, 1),
        "learner_wait_fraction": round(wait, 3),
        "learner_wait_fraction_with_startup": round(summary["learner_wait_fraction"], 3),
        "discriminator_steps": threaded_config.learner.discriminator_steps,
        "num_actors": threaded_config.num_actors,
        "envs_per_actor": threaded_config.envs_per_actor})
  scene_modes = {"mujoco_scenes": ("mujoco", mujoco_conditional.get_config, "small"),
                 "mujoco_long": ("mujoco_long", mujoco_long.get_config, "small")}
  for mode, (prefix, get_config, size) in scene_modes.items():
    if mode in FLAGS.modes:
      config = _actors_from_flags(get_config(size))
      config.data.limit = config.data.limit or 2000  # generated at the start: keep it short
      result.update(_scene_figures(prefix, config))
  result.update({
      "batch_size": anakin_config.learner.batch_size,
      "canvas_size": anakin_config.env.kwargs.canvas_size,
      "episode_length": anakin_config.env.kwargs.episode_length,
      "devices": jax.device_count(),
      "seconds": FLAGS.seconds,
  })
  print(json.dumps(result))


if __name__ == "__main__":
  host_memory.reexec_with_hugepages()
  app.run(main)
