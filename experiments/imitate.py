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

Programs: MuJoCo Scenes' own (config experiments/configs/mujoco_conditional.py), random stroke
programs for the JAX painting renderer, or with --traced=FILE the programs traced from pictures'
ink (`experiments.trace_expert --out=FILE`); the loop is `experiments.cloning`'s. From a rollout
search's programs (`trace_expert --expert=search`), --objective=candidates learns from every
action the search tried instead of the one it kept (`spiral_jax.imitation.candidate_loss`; it
gained no more than cloning did: docs/levers.md):

  python -m experiments.imitate --config=experiments/configs/omniglot_long.py \
      --config.init_from=omniglot --traced=runs/search.npz --workdir=runs/candidates \
      --objective=candidates --batch_size=16 --learning_rate=3e-4 --updates=400 Checkpoints
every config.checkpoint_every_minutes and at the end (SIGTERM or Ctrl-C stops cleanly). The last
line printed is one JSON object: updates, frames, elapsed_s, stopped_by_signal.
"""

import json
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from experiments import cloning as cloning_lib

DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "configs", "mujoco_conditional.py")
FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", f"{DEFAULT_CONFIG}:small",
                                "An experiment config file and size.")
flags.DEFINE_string("workdir", "outputs/imitate", "The run directory.")
flags.DEFINE_bool("resume", False, "Continue from the newest checkpoint in --workdir.")
flags.DEFINE_integer("updates", 0, "Stop after this many cloning updates (0: no limit).")
flags.DEFINE_float("max_minutes", 10.0, "Stop after this many minutes of this call (0: no limit).")
flags.DEFINE_float("learning_rate", 1e-3, "Adam's learning rate.")
flags.DEFINE_float("learning_rate_final", 1.0, "With --updates: the learning rate falls linearly "
                   "over them to this fraction of --learning_rate (1: constant).")
flags.DEFINE_integer("batch_size", 0, "Demonstrations per update (0: config.learner.batch_size).")
flags.DEFINE_integer("scenes", 49000, "Learn from the training split's first this many scenes "
                     "(scenes 49,000 on are the validation scenes).")
flags.DEFINE_float("noise", 0.0, "The share of demonstrated objects placed with one attribute "
                   "changed at random, or of strokes ending a cell off (the program goes on as "
                   "if it were right).")
flags.DEFINE_string("traced", None, "Painting only: learn from the programs traced from "
                    "pictures in this file (`python -m experiments.trace_expert --out=FILE`), "
                    "or from those that ship (mnist_sample: the main job's set-up), instead of "
                    "random stroke programs.")
flags.DEFINE_enum("objective", "clone", ["clone", "candidates"], "What the policy learns: the "
                  "demonstrated actions (clone), or, from a search's programs (`trace_expert "
                  "--expert=search`), every candidate the search tried, the better ones more "
                  "likely and the worse less (candidates; --config.init_from: the agent that "
                  "searched).")
flags.DEFINE_float("clip", 0.2, "--objective=candidates: how far (as a ratio) a candidate's "
                   "probability may move from the searching agent's before its gradient stops.")
flags.DEFINE_integer("log_every", 20, "Write a metrics record every this many updates.")


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  try:
    settings = cloning_lib.Cloning(
        updates=FLAGS.updates, max_minutes=FLAGS.max_minutes, learning_rate=FLAGS.learning_rate,
        learning_rate_final=FLAGS.learning_rate_final, batch_size=FLAGS.batch_size,
        noise=FLAGS.noise, scenes=FLAGS.scenes, log_every=FLAGS.log_every,
        objective=FLAGS.objective, clip=FLAGS.clip)
    summary = cloning_lib.clone(FLAGS.config, FLAGS.traced, FLAGS.workdir, settings,
                                resume=FLAGS.resume)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  print(json.dumps(summary), file=sys.stdout)


if __name__ == "__main__":
  app.run(main)
