"""Evaluates an agent: a conditional one on targets it did not train on (l2, recognised, blank
l2), an unconditional one on its samples (confident, class shares).

  spiral-jax evaluate --agent=mnist_small                       # a shipped agent, its test digits
  spiral-jax evaluate --workdir=outputs/train                   # a training run's newest checkpoint
  spiral-jax evaluate --agent=mnist_small --dataset=mnist --data_dir=/data/mnist --split=test \
      --num_images=10000
  spiral-jax evaluate --agent=mnist_small --renderer=libmypaint # the same agent, libmypaint
  spiral-jax evaluate --agent=mnist_small --dataset=folder --data_dir=my_digits/
  spiral-jax evaluate --agent=omniglot                          # its held-out alphabets
  spiral-jax evaluate --agent=mnist_unconditional --num_images=1000   # 1,000 samples
  spiral-jax evaluate --agent=mujoco_scenes --num_images=100    # held-out generated scenes

The agent runs greedily (`--sample` to sample) on the first --num_images targets of the split.
With `--search=K` each target is painted by a rollout search instead (`spiral_jax.rollout_search`):
at each step K of the agent's actions (its most likely and samples) are each played and finished
greedily, and the one ending closest to the target is kept. It paints closer (never further) at
about K x (steps + 1) / 2 times the agent's cost; the agent alone is the figure its README row
reports.
Figures: `l2_mean` and `l2_ci95` (mean squared error per pixel to the target, with a 95%
confidence interval), `recognised` (the share of paintings that the shipped MNIST classifier labels
as their target's label; MNIST only), `blank_l2` (the l2 of a blank canvas to the same targets)
and `num_images`. The last line printed is one flat JSON object of them (and the settings); it is
also written to --output (default WORKDIR/evaluation.json, or outputs/evaluate/NAME.json for a
shipped agent), with evaluation.png (target | painting pairs) beside it.

An unconditional agent paints --num_images sampled episodes; for MNIST the shipped classifier
scores them: `confident` (the share it labels with probability > 0.9), `class_share_0` ...
`class_share_9` and `class_min_share` (the rarest digit's share); evaluation.png shows 64 samples.

A MuJoCo Scenes agent adds whether each scene was rebuilt: `count_accuracy` (scenes with the right
number of objects), `object_accuracy` (true objects matched by one with the right shape, size,
colour and cell), each attribute's accuracy, and `mcmc_l2_5000`, the MCMC baseline's l2 after
5,000 renderer calls on the same scenes (from the shipped agent's record, or --mcmc_dir).
"""

import json
import os

from absl import app
from absl import flags
from absl import logging

from experiments.measure import evaluate
from spiral_jax import metrics as metrics_lib
from spiral_jax import pictures

FLAGS = flags.FLAGS
flags.DEFINE_string("agent", None, "A shipped agent (spiral-jax agents lists them) or an agent "
                    "file.")
flags.DEFINE_string("workdir", None, "A training run's directory (instead of --agent).")
flags.DEFINE_string("dataset", None, "mnist, mnist_sample, folder, omniglot ... (default: the "
                    "agent's own; for a shipped MNIST agent the shipped sample, or mnist when "
                    "--data_dir is given).")
flags.DEFINE_string("split", None, "Dataset split, optionally sliced: test, train[55000:] ... "
                    "(default: the agent's held-out split; test for MNIST).")
flags.DEFINE_string("data_dir", None, "The dataset's directory, if not the agent's.")
flags.DEFINE_integer("num_images", 1000, "How many targets (the first N of the split).")
flags.DEFINE_integer("batch_size", 64, "Episodes run at once.")
flags.DEFINE_bool("sample", False, "Sample actions instead of taking the most likely ones.")
flags.DEFINE_string("renderer", None, "Paint with this environment instead of the agent's "
                    "(e.g. libmypaint for an agent trained on jax_paint).")
flags.DEFINE_integer("search", 0, "Paint each target by a rollout search over this many of the "
                     "agent's actions per step (0: the agent alone; JAX renderer only).")
flags.DEFINE_integer("sampling_seed", 0, "Seed for sampled actions (with --sample).")
flags.DEFINE_string("output", None, "The JSON file to write.")
flags.DEFINE_string("mcmc_dir", None, "A MuJoCo Scenes agent: an MCMC run on the same scenes "
                    "(python -m experiments.mcmc --mcmc_dir=DIR) to report mcmc_l2_5000 from.")


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  if not FLAGS.agent and not FLAGS.workdir:
    FLAGS.workdir = "outputs/train"
  summary, renders, targets = evaluate(FLAGS.workdir, FLAGS.split, FLAGS.data_dir,
                                       FLAGS.num_images, FLAGS.batch_size, not FLAGS.sample,
                                       FLAGS.renderer, FLAGS.sampling_seed, FLAGS.agent,
                                       FLAGS.dataset, FLAGS.mcmc_dir, FLAGS.search)
  output = FLAGS.output or (os.path.join(FLAGS.workdir, "evaluation.json") if FLAGS.workdir
                            else os.path.join("outputs", "evaluate", f"{summary['agent']}.json"))
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  metrics_lib.write_atomically(output, json.dumps(summary, indent=1))
  picture = (pictures.grid(renders[:64], 8, scale=2) if targets is None
             else pictures.reconstructions(targets[:32], renders[:32]))
  pictures.save_png(picture, os.path.join(os.path.dirname(os.path.abspath(output)),
                                          "evaluation.png"))
  print(json.dumps(summary))


if __name__ == "__main__":
  app.run(main)
