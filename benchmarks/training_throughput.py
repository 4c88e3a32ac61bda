"""End-to-end training throughput of the small conditional MNIST config, both ways:

  * Anakin: the JAX renderer, policy and both updates in one jitted loop;
  * threaded: libmypaint environments in actor threads feeding the learner through the queue.

Each runs for about --seconds (a minute by default) of training after a warm-up that is not
counted (compilation). Frames/s are measured over the run's metrics records after the warm-up;
the learner's wait fraction is the share of its loop time spent waiting for trajectories over the
same window (`learner_wait_fraction_with_startup` also counts the start, when the learner waits for
the actors' first episodes).

  OMP_NUM_THREADS=1 python -m benchmarks.training_throughput [--seconds 60]

The last line is one JSON object: anakin_frames_per_s, libmypaint_frames_per_s,
learner_wait_fraction, and the settings used.
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
from spiral_jax import host_memory
from spiral_jax import metrics as metrics_lib
from spiral_jax import training

FLAGS = flags.FLAGS
flags.DEFINE_float("seconds", 60.0, "Seconds of measured training per mode.")
flags.DEFINE_float("warmup_seconds", 20.0, "Seconds of training not counted (compilation).")
flags.DEFINE_integer("num_actors", None, "Actor threads in the threaded mode (default: config's).")
flags.DEFINE_integer("envs_per_actor", None, "Environments per actor (default: config's).")


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
  wait = None
  if "learner_wait_s" in last:
    wait = (last["learner_wait_s"] - first["learner_wait_s"]) / max(
        last["learner_loop_s"] - first["learner_loop_s"], 1e-9)
  return fps, wait, summary


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  anakin_config = mnist_conditional.get_config("small")
  anakin_fps, _, _ = measure(anakin_config)
  threaded_config = mnist_libmypaint.get_config("small")
  threaded_config.num_actors = FLAGS.num_actors or threaded_config.num_actors
  threaded_config.envs_per_actor = FLAGS.envs_per_actor or threaded_config.envs_per_actor
  threaded_fps, wait, summary = measure(threaded_config)
  result = {
      "anakin_frames_per_s": round(anakin_fps, 1),
      "libmypaint_frames_per_s": round(threaded_fps, 1),
      "learner_wait_fraction": round(wait, 3),
      "learner_wait_fraction_with_startup": round(summary["learner_wait_fraction"], 3),
      "discriminator_steps": threaded_config.learner.discriminator_steps,
      "num_actors": threaded_config.num_actors,
      "envs_per_actor": threaded_config.envs_per_actor,
      "batch_size": anakin_config.learner.batch_size,
      "canvas_size": anakin_config.env.kwargs.canvas_size,
      "episode_length": anakin_config.env.kwargs.episode_length,
      "devices": jax.device_count(),
      "seconds": FLAGS.seconds,
  }
  print(json.dumps(result))


if __name__ == "__main__":
  host_memory.reexec_with_hugepages()
  app.run(main)
