"""Population-based training (paper section 3.4) on Ray Tune: any experiment config trained as a
population whose entropy cost and learning rates are copied from better members and perturbed.

  spiral-jax pbt --population=4 --workdir=runs/pbt                 # this machine
  spiral-jax pbt --config=experiments/configs/mnist_unconditional.py --population=12 \
      --address=auto --workdir=/shared/runs/pbt                    # a Ray cluster (ray start ...)

Each member is the ordinary training loop (`spiral_jax.training.run`) inside a Ray Tune function
trainable. Every `pbt.perturbation_interval` updates it writes its orbax checkpoint and reports its
frames, fitness and hyper-parameters with that checkpoint (`tune.report(..., checkpoint=...)`).
Ray Tune's `PopulationBasedTraining` scheduler then lets the members in the bottom quarter exploit
one of the top quarter: the member restarts from the better member's checkpoint
(`tune.get_checkpoint()`), and explores: its hyper-parameters are the better member's, perturbed
(x0.8 or x1.2, or resampled from the range). Fitness (`pbt.fitness`): "auto" is -l2 to the targets
for conditional agents and D's score of the final renders for unconditional ones (the paper's),
averaged over the interval; "l2" and "score" choose one.

Outputs in --workdir: one Ray Tune experiment (`pbt/`, a directory per member with its own run
directory `run/`), `pbt.png` (each member's fitness and hyper-parameters against frames, one
picture), `members.json` (each member's history, with the exploits), and `best/`: the best
member's newest checkpoint as a normal run directory (`spiral-jax evaluate --workdir=WORKDIR/best`,
`paint`, `train --resume` accept it). The last line printed is one flat JSON object.

Ray is an optional extra: `pip install 'spiral-jax[pbt]'`.
"""

import json
import os

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from experiments import population

DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "configs", "mnist_conditional.py")
FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", f"{DEFAULT_CONFIG}:small",
                                "An experiment config file and size.")
flags.DEFINE_string("workdir", "outputs/pbt", "Where the population's runs and results go.")
flags.DEFINE_string("data_dir", None, "The dataset's directory (as for train).")
flags.DEFINE_integer("population", None, "Members (default: the config's pbt.population, 12).")
flags.DEFINE_integer("perturbation_interval", None, "Updates between reports, exploits and "
                     "explores (default: the config's pbt.perturbation_interval).")
flags.DEFINE_integer("max_frames", 0, "Frames each member trains (0: the config's budget).")
flags.DEFINE_string("address", None, "A running Ray cluster's address ('auto', or host:6379); "
                    "default: start Ray on this machine.")
flags.DEFINE_float("cpus_per_member", 0.0, "CPUs Ray reserves per member (0: the cluster's CPUs "
                   "shared by the population, so that every member runs at once).")
flags.DEFINE_integer("seed", 0, "The seed of the members' first hyper-parameters.")


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  config = FLAGS.config
  if FLAGS.data_dir:
    if config.data.name == "mnist_sample":
      config.data.name = "mnist"
    config.data.data_dir = FLAGS.data_dir
  summary = population.run_population(config, FLAGS.workdir, FLAGS.population,
                                      FLAGS.perturbation_interval, FLAGS.max_frames,
                                      FLAGS.address, FLAGS.cpus_per_member, FLAGS.seed)
  print(json.dumps(summary))


if __name__ == "__main__":
  app.run(main)
