"""Ships a trained agent: its policy, config, frames and evaluation figures in one small file.

  python -m experiments.ship --workdir=outputs/train --name=mnist_small
  python -m experiments.ship --workdir=runs/paper --name=mnist --data_dir=/data/mnist
  python -m experiments.ship --workdir=runs/scenes --name=mujoco_scenes --mcmc_dir=outputs/mcmc

It evaluates the run's newest checkpoint on the held-out split (with the JAX renderer it trained
on, if any, and with libmypaint; an unconditional agent on its samples; a MuJoCo Scenes agent
with MuJoCo, and --mcmc_dir's MCMC record of its test scenes goes into the file), then writes
spiral_jax/pretrained/NAME.npz (or --out), with the D it trained against (for continuing training):
`spiral_jax.pretrained.load(NAME)` and `spiral-jax paint --agent=NAME` use it. The last line is
one JSON object of what was recorded.
"""

import json
import os

from absl import app
from absl import flags
from absl import logging

from experiments import measure
from experiments import setups
from spiral_jax import mcmc
from spiral_jax import pretrained
from spiral_jax import training

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "The training run to ship.")
flags.DEFINE_string("name", None, "The agent's name (a file name: letters, digits, _).")
flags.DEFINE_string("out", None, "Where the agent file goes (default: the package).")
flags.DEFINE_string("data_dir", None, "The test images' directory (default: the shipped sample of "
                    "the agent's dataset, if any, else the run's own data directory).")
flags.DEFINE_string("split", None, "The held-out split to evaluate on, recorded as the agent's "
                    "data.test_split (default: the run config's test_split, else test).")
flags.DEFINE_integer("num_images", 1000, "Test targets evaluated.")
flags.DEFINE_bool("libmypaint", True, "Also evaluate with libmypaint.")
flags.DEFINE_string("note", "", "A line on how the agent was trained (recorded).")
flags.DEFINE_string("mcmc_dir", None, "A MuJoCo Scenes agent: the MCMC run on its test scenes "
                    "(python -m experiments.mcmc --agent=RUN --mcmc_dir=DIR), recorded in the "
                    "agent so that evaluate reports mcmc_l2_5000 and Fig. 9 redraws from it.")


def ship(workdir, name, out=None, data_dir=None, split=None, num_images=1000,
         with_libmypaint=True, note="", mcmc_dir=None):
  """Evaluates the run and writes its agent file; returns the recorded info."""
  if not name or not name.replace("_", "").isalnum():
    raise ValueError(f"An agent name is letters, digits and _, not {name!r}.")
  config, params, meta, discriminator = setups.load_run(workdir, with_discriminator=True)
  if split:
    config.data.test_split = split
  tc = training.training_config(config)
  setup = setups.make_setup(config, load_data=False)
  own = setups.own_dataset(tc.data["name"])
  dataset = setups.SAMPLES.get(own, own) if not data_dir else own
  held_out = None if dataset in setups.SAMPLES.values() else setups.held_out_split(config)
  # A run continued from another run or agent (init_from) counts that training too.
  earlier = training.lineage(workdir)
  info = {"conditional": tc.conditional, **training.totals(meta["counters"], earlier),
          "trained_on": f"{tc.data['name']} {tc.data['split']}", "note": note,
          "evaluation": {}}
  if earlier:
    info["continued_from"] = earlier["source"]
  renderers = [tc.env["name"]] + (["libmypaint"] if with_libmypaint
                                  and tc.env["name"] == "jax_paint" else [])
  if mcmc_dir:
    info["mcmc"] = mcmc.load_curve_record(os.path.join(mcmc_dir, mcmc.RECORD_FILE))
    num_images = int(info["mcmc"]["num_scenes"])  # the scenes the chains ran on
  for renderer in renderers:
    summary, _, _ = measure.evaluate(workdir, held_out, data_dir, num_images, renderer=renderer,
                                     dataset=dataset, mcmc_dir=mcmc_dir)
    info["evaluation"][renderer] = {k: summary[k] for k in (
        "l2_mean", "l2_ci95", "recognised", "blank_l2", "num_images", "dataset", "split",
        "confident", "class_min_share", "count_accuracy", "object_accuracy", "mcmc_l2_5000")
                                    if k in summary}
  path = out or pretrained.path_of(name)
  # D goes with the agent, so that training can continue from the file (init_from=NAME).
  pretrained.save(path, tc.to_dict(), params, setup.observation_spec, setup.action_spec, info,
                  discriminator)
  return dict(info, path=path, megabytes=round(os.path.getsize(path) / 1e6, 2))


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  if not FLAGS.workdir or not FLAGS.name:
    raise app.UsageError("Give the run and the agent's name: --workdir=DIR --name=NAME.")
  print(json.dumps(ship(FLAGS.workdir, FLAGS.name, FLAGS.out, FLAGS.data_dir, FLAGS.split,
                        FLAGS.num_images, FLAGS.libmypaint, FLAGS.note, FLAGS.mcmc_dir)))


if __name__ == "__main__":
  app.run(main)
