"""Trains a SPIRAL agent: wires an environment and a dataset to `spiral_jax.training`.

  python -m experiments.train                                  # small conditional MNIST, <= 10 min
  python -m experiments.train --config=experiments/configs/mnist_conditional.py:paper \
      --data_dir=/data/mnist --workdir=runs/mnist
  python -m experiments.train --workdir=runs/mnist --resume     # continue from the last checkpoint
  python -m experiments.train --config.max_minutes=30 --config.learner.batch_size=32

Outputs in --workdir: checkpoints/, metrics.jsonl, metrics.csv, tensorboard/, learning_curve.png,
reconstructions.png (conditional) or samples.png.

Several hosts (e.g. a TPU VM pod, or CPU machines): run the same command on every host with
--coordinator_address=HOST0:PORT --num_processes=N --process_id=I; each host runs its own actors
and contributes batch_size / N trajectories to every data-parallel update.
"""

import dataclasses
import json
import os

from absl import app
from absl import flags
from absl import logging
import jax
import numpy as np
from ml_collections import config_flags

from spiral_jax import anakin
from spiral_jax import training
from spiral_jax.data import images as images_lib

DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "configs", "mnist_conditional.py")
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


def paint_config(env_config):
  from environments import paint_actions  # pylint: disable=import-outside-toplevel
  kwargs = dict(env_config.kwargs)
  if "brush_sizes" in kwargs:
    kwargs["brush_sizes"] = tuple(kwargs["brush_sizes"])
  return paint_actions.PaintConfig(**kwargs)


def make_setup(config):
  """The environment (dm_env factory and, for JAX renderers, the functional env) and data."""
  name = config.env.name
  if name in ("jax_paint", "libmypaint"):
    from environments import jax_paint  # pylint: disable=import-outside-toplevel
    from environments import libmypaint  # pylint: disable=import-outside-toplevel
    from environments import paint_actions  # pylint: disable=import-outside-toplevel
    paint = paint_config(config.env)
    if name == "jax_paint":
      params = jax_paint.default_params(paint)
      functional = anakin.FunctionalEnv(
          reset=lambda key: jax_paint.reset(key, params),
          step=lambda key, state, action: jax_paint.step(key, state, action, params),
          episode_length=paint.episode_length)
      factory = lambda: jax_paint.JaxPaint.from_config(paint)
    else:
      functional = None
      factory = lambda: libmypaint.LibMyPaint.from_config(paint)
    observation_spec = paint_actions.observation_spec(paint)
    action_spec = paint_actions.action_spec(paint)
    canvas_size, channels, episode_length = paint.canvas_size, paint.channels, paint.episode_length
  else:
    raise ValueError(f"Unknown environment {name!r}: known are 'jax_paint' and 'libmypaint'.")
  data = config.data
  images = images_lib.load(data.name, data.data_dir or None, data.split, canvas_size,
                           data.limit or None, grayscale=channels == 1)
  if images.shape[-1] != channels:
    if images.shape[-1] == 1:
      images = np.repeat(images, channels, axis=-1)
    else:
      raise ValueError(f"The dataset has {images.shape[-1]} channels, the canvas {channels}: "
                       "use a colour environment for colour data.")
  return training.Setup(observation_spec=observation_spec, action_spec=action_spec,
                        episode_length=episode_length, images=images, env_factory=factory,
                        functional_env=functional)


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
  setup = make_setup(config)
  logging.info("Training %s on %d %s images, %d device(s), workdir %s", config.env.name,
               len(setup.images), config.data.name, jax.device_count(), FLAGS.workdir)
  summary = training.run(config, setup, FLAGS.workdir, resume=FLAGS.resume)
  if jax.process_index() == 0:
    print(json.dumps({k: v for k, v in summary.items()}))


if __name__ == "__main__":
  app.run(main)
