"""Trains a SPIRAL agent: wires an environment and a dataset to `spiral_jax.training`.

  python -m experiments.train                                  # the main job, <= 10 min
  python -m experiments.train --config=experiments/configs/mnist_conditional.py:paper \
      --data_dir=/data/mnist --workdir=runs/mnist
  python -m experiments.train --workdir=runs/mnist --resume     # continue from the last checkpoint
  python -m experiments.train --config.max_minutes=30 --config.learner.batch_size=32

The main job (experiments/configs/mnist_main.py) first clones programs traced from the sample's
training digits in --workdir/imitation (config.imitation), then SPIRAL's learners start from the
clone for the minutes left. Outputs in --workdir: checkpoints/, metrics.jsonl, metrics.csv,
tensorboard/, learning_curve.png, reconstructions.png (conditional) or samples.png.

Several hosts (e.g. a TPU VM pod, or CPU machines): run the same command on every host with
--coordinator_address=HOST0:PORT --num_processes=N --process_id=I; each host runs its own actors
and contributes batch_size / N trajectories to every data-parallel update.
"""

import json
import os
import sys

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from experiments import cloning
from experiments import setups
from spiral_jax import checkpoint as checkpoint_lib
from spiral_jax import host_memory
from spiral_jax import training

DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "configs", "mnist_main.py")
FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", f"{DEFAULT_CONFIG}:small",
                                "An experiment config file and size, e.g. "
                                "experiments/configs/mnist_conditional.py:small.")
flags.DEFINE_string("workdir", "outputs/train", "Where checkpoints, metrics and pictures go.")
flags.DEFINE_bool("resume", False, "Continue from the newest checkpoint in --workdir.")
flags.DEFINE_string("data_dir", None, "The dataset's directory (MNIST: the original IDX files; "
                    "Omniglot, CelebA: the image files). Without it MNIST configs use the "
                    "1,000-digit sample shipped with the package.")
flags.DEFINE_string("coordinator_address", None, "host:port of process 0, for multi-host runs.")
flags.DEFINE_integer("num_processes", 1, "Hosts in a multi-host run.")
flags.DEFINE_integer("process_id", 0, "This host's index in a multi-host run.")


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every file it writes at INFO
  if FLAGS.coordinator_address:
    jax.distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
  config = FLAGS.config
  if FLAGS.data_dir:
    if config.data.name == "mnist_sample":
      config.data.name = "mnist"
    config.data.data_dir = FLAGS.data_dir
  try:
    setup = setups.make_setup(config)  # before cloning: data that cannot be read stops at once
    config = _imitation_phase(config, FLAGS.workdir, FLAGS.resume)
  except (ValueError, OSError) as e:
    _exit_with(e)
  if config is None:
    return
  logging.info("Training %s on %d %s images, %d device(s), workdir %s", config.env.name,
               len(setup.images), config.data.name, jax.device_count(), FLAGS.workdir)
  try:
    summary = training.run(config, setup, FLAGS.workdir, resume=FLAGS.resume)
  except (ValueError, checkpoint_lib.CheckpointError) as e:  # e.g. an init_from that does not fit
    if FLAGS["verbosity"].present:
      raise
    _exit_with(e)
  if jax.process_index() == 0:
    if summary["stopped_by_signal"]:
      print(f"Stopped by a signal: checkpoint at update {summary['updates']} in "
            f"{FLAGS.workdir}; continue with --resume.", file=sys.stderr)
    print(json.dumps({k: v for k, v in summary.items()}))


def _exit_with(error):
  """Ends the command with `error` on one line, as `spiral-jax train` says it, and status 1."""
  sys.stderr.write(f"experiments.train: {' '.join(str(error).split())}\n")
  sys.exit(1)


def _imitation_phase(config, workdir, resume):
  """With config.imitation.updates, the run's first phase: behaviour cloning of the configured
  programs (`experiments.cloning`) in workdir/imitation, within max_minutes. Returns the config
  for SPIRAL's phase, which starts from the cloned policy (init_from) for the minutes left, or
  None if a signal stopped the cloning (it is checkpointed; --resume continues it)."""
  section = config.imitation
  if not section.updates:
    return config
  clone_dir = os.path.join(workdir, "imitation")
  rl_started = os.path.isdir(os.path.join(workdir, "checkpoints"))
  if resume and rl_started:
    return _after_cloning(config, clone_dir)
  if not resume and (rl_started or os.path.isdir(clone_dir)):
    raise ValueError(f"{workdir} already holds a run: continue it with --resume or choose a new "
                     "--workdir.")
  settings = cloning.Cloning(
      updates=section.updates, max_minutes=config.max_minutes,
      learning_rate=section.learning_rate, learning_rate_final=section.learning_rate_final,
      batch_size=section.batch_size, noise=section.noise)
  print(f"Behaviour cloning of {section.programs!r} for up to {section.updates} updates, in "
        f"{clone_dir}", file=sys.stderr)
  try:
    summary = cloning.clone(config, section.programs or None, clone_dir, settings, resume=resume)
  except ValueError as e:
    raise ValueError(f"The cloning phase: {e} (Or train without it: "
                     "--config.imitation.updates=0.)") from None
  if summary["stopped_by_signal"]:
    print(f"Stopped by a signal while cloning: checkpoint at update {summary['updates']} in "
          f"{clone_dir}; continue with --resume.", file=sys.stderr)
    return None
  config = _after_cloning(config, clone_dir)
  if config.max_minutes:
    config.max_minutes = max(config.max_minutes - summary["elapsed_s"] / 60, 0.05)
  return config


def _after_cloning(config, clone_dir):
  """The config of SPIRAL's phase after cloning: it starts from the clone (a resumed run ignores
  init_from; it is kept for the record), the policy at the imitation section's learning rate (0:
  held still, D alone learns)."""
  config.init_from = clone_dir
  config.learner.policy_learning_rate = config.imitation.spiral_learning_rate
  return config


if __name__ == "__main__":
  host_memory.reexec_with_hugepages()
  app.run(main)
