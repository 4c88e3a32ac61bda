"""Evaluates a trained conditional agent: l2 to the targets of a test split, with a 95% CI.

  python -m experiments.evaluate --workdir=outputs/train                 # the main job's agent
  python -m experiments.evaluate --workdir=runs/mnist --data_dir=/data/mnist --split=test \
      --num_images=10000 --sample                                        # sampled, not greedy
  python -m experiments.evaluate --workdir=outputs/train --renderer=libmypaint

The run's configuration is read from its checkpoint. Writes --output (default
WORKDIR/evaluation.json) with l2_mean, l2_ci95 and num_images (and the settings), and
WORKDIR/evaluation.png (target | painting pairs).
"""

import json
import os

from absl import app
from absl import flags
from absl import logging
import jax
import numpy as np

from experiments import setups
from spiral_jax import evaluation
from spiral_jax import learner as learner_lib
from spiral_jax import pictures
from spiral_jax import training

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "outputs/train", "The training run's directory.")
flags.DEFINE_string("split", "test", "Dataset split (MNIST: train or test).")
flags.DEFINE_string("data_dir", None, "The dataset's directory, if not the run's.")
flags.DEFINE_integer("num_images", 1000, "How many targets (the first N of the split).")
flags.DEFINE_integer("batch_size", 64, "Episodes run at once.")
flags.DEFINE_bool("sample", False, "Sample actions instead of taking the most likely ones.")
flags.DEFINE_string("renderer", None, "Paint with this environment instead of the run's "
                    "(e.g. libmypaint for an agent trained on jax_paint).")
flags.DEFINE_integer("sampling_seed", 0, "Seed for sampled actions (with --sample).")
flags.DEFINE_string("output", None, "The JSON file (default WORKDIR/evaluation.json).")


def evaluate(workdir, split="test", data_dir=None, num_images=1000, batch_size=64, greedy=True,
             renderer=None, seed=0):
  """Runs the agent on targets; returns (summary dict, renders, targets)."""
  config, params, meta = setups.load_run(workdir)
  config.data.split = split
  if data_dir:
    if config.data.name == "mnist_sample":
      config.data.name = "mnist"
    config.data.data_dir = data_dir
  if renderer:
    config.env.name = renderer
  setup = setups.make_setup(config)
  policy, _, learner_config = training.build_agent(config, setup)
  if not learner_lib.is_conditional(learner_config):
    raise ValueError("Only conditional agents reconstruct targets; this run is unconditional.")
  targets = setup.images[:num_images]
  key = jax.random.PRNGKey(seed)
  if setup.functional_env is not None:
    renders = evaluation.reconstruct_functional(setup.functional_env, policy, params, targets,
                                                key, batch_size, greedy)
  else:
    renders, _ = evaluation.reconstruct_dm_env(setup.env_factory, policy, params, targets, key,
                                               batch_size, greedy)
  summary = evaluation.l2_summary(renders, targets)
  summary.update({"dataset": config.data.name, "split": split, "greedy": greedy,
                  "renderer": config.env.name, "checkpoint_updates": meta["counters"]["updates"],
                  "checkpoint_frames": meta["counters"]["frames"]})
  return summary, renders, targets


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  summary, renders, targets = evaluate(FLAGS.workdir, FLAGS.split, FLAGS.data_dir,
                                       FLAGS.num_images, FLAGS.batch_size, not FLAGS.sample,
                                       FLAGS.renderer, FLAGS.sampling_seed)
  output = FLAGS.output or os.path.join(FLAGS.workdir, "evaluation.json")
  tmp = output + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(summary, f, indent=1)
  os.replace(tmp, output)
  pictures.save_png(pictures.reconstructions(targets[:32], renders[:32]),
                    os.path.join(os.path.dirname(os.path.abspath(output)), "evaluation.png"))
  print(json.dumps(summary))


if __name__ == "__main__":
  app.run(main)
