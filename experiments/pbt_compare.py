"""Population-based training against fixed hyper-parameters, at equal total frames, on the main
job's set-up (the small conditional MNIST config).

  python -m experiments.pbt_compare --data_dir=/data/mnist --population=4 --frames=1000000 \
      --root=outputs/pbt_compare

Two arms, each of --population runs of --frames frames, on MNIST train[:55000]:
  * pbt: a population (`spiral-jax pbt`) whose members start from hyper-parameters drawn from the
    config's `pbt` ranges with --seed;
  * fixed: one ordinary run per member, each keeping that member's first hyper-parameters (the
    same draws) throughout: random search with the same budget.
Each arm's best run is chosen by the training fitness alone (PBT: the scheduler's last fitness;
fixed: the mean training l2 over its last --perturbation_interval updates), then every run picked
(and each fixed run, to show the spread) is run greedily on the first --num_images digits of
train[55000:] (validation: the test split is left for the shipped agents' figures).

An arm already trained (ROOT/pbt/summary.json, ROOT/fixed_N/done) is only measured again, so an
interrupted comparison continues where it stopped (a fixed run resumes from its checkpoint).
Writes ROOT/compare.json, ROOT/compare.png (training l2 against frames: every PBT member and
every fixed run) and ROOT/pbt/pbt.png; the last line printed is one flat JSON object.
"""

import json
import os

from absl import app
from absl import flags
from absl import logging
import numpy as np

from experiments import measure
from experiments import population
from experiments import setups
from experiments.configs import mnist_conditional
from spiral_jax import metrics as metrics_lib
from spiral_jax import pictures
from spiral_jax import training

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "The original MNIST files.")
flags.DEFINE_string("root", "outputs/pbt_compare", "Where the runs go.")
flags.DEFINE_integer("population", 4, "Members of the population, and fixed runs.")
flags.DEFINE_integer("frames", 1000000, "Frames each member and each fixed run trains.")
flags.DEFINE_integer("perturbation_interval", 150, "Updates between PBT's reports.")
flags.DEFINE_string("train_split", "train[:55000]", "What the runs train on.")
flags.DEFINE_string("validation_split", "train[55000:]", "What the picked runs are measured on.")
flags.DEFINE_integer("num_images", 1000, "Validation digits.")
flags.DEFINE_integer("seed", 0, "The seed of the first hyper-parameters (both arms).")


def base_config(data_dir, split, frames):
  """The main job's config, on the original MNIST files, for `frames` frames."""
  config = mnist_conditional.get_config("small")
  config.update_from_flattened_dict({
      "data.name": "mnist", "data.data_dir": os.path.abspath(data_dir), "data.split": split,
      "max_frames": frames, "max_minutes": 0.0, "progress": False,
      "checkpoint_every_minutes": 5.0})
  return config


def l2_records(workdir):
  """A run's metrics.jsonl records that hold a training l2."""
  return [r for r in metrics_lib.read_jsonl(os.path.join(workdir, "metrics.jsonl"))
          if r.get("l2") is not None]


def l2_curve(workdir):
  """(frames, training l2) of a run's logged updates."""
  records = l2_records(workdir)
  return [r["frames"] for r in records], [r["l2"] for r in records]


def last_interval_l2(workdir, updates):
  """The mean training l2 over a run's last `updates` updates (its metrics.jsonl)."""
  records = l2_records(workdir)
  end = records[-1]["updates"]
  return float(np.mean([r["l2"] for r in records if r["updates"] > end - updates]))


def train_fixed(config, hypers, workdir):
  """One fixed run (unless done): the config with `hypers` throughout."""
  done = os.path.join(workdir, "done")
  if os.path.exists(done):
    return
  run_config = population.member_config(config, hypers)
  training.run(run_config, setups.make_setup(run_config), workdir,
               resume=os.path.isdir(os.path.join(workdir, "checkpoints")))
  with open(done, "w", encoding="utf-8") as f:
    json.dump(hypers, f)


def train_population(config, root, size, interval, frames, seed):
  """The PBT arm (unless done): run_population's summary."""
  path = os.path.join(root, "pbt", "summary.json")
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  summary = population.run_population(config, os.path.join(root, "pbt"), size, interval,
                                      frames, seed=seed)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(summary, f)
  return summary


def member_curves(root):
  """{member label: (frames, training l2)} of each PBT member (its run's metrics.jsonl; after an
  exploit, the frames are those of the checkpoint it continued from)."""
  with open(os.path.join(root, "pbt", "members.json"), encoding="utf-8") as f:
    members = json.load(f)
  curves = {f"pbt member {i}": l2_curve(os.path.join(member["path"], "run"))
            for i, member in enumerate(members)}
  return curves, members


def frames_trained(members, interval, frames_per_update):
  """Frames the population trained in all: its reports (one every `interval` updates) times
  the frames of an interval."""
  return sum(len(m["history"]) for m in members) * interval * frames_per_update


def plot(pbt_curves, fixed_curves, path, window=20):
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, ax = plt.subplots(figsize=(7.5, 4.5))
  for curves, cmap, style in ((pbt_curves, plt.cm.Reds, "-"), (fixed_curves, plt.cm.Blues, "--")):
    for i, (label, (xs, ys)) in enumerate(sorted(curves.items())):
      colour = cmap(0.45 + 0.5 * i / max(1, len(curves) - 1))
      ax.plot(xs, pictures.smoothed(ys, window), style, color=colour, lw=1.3, label=label)
  ax.set_xlabel("frames (each run)")
  ax.set_ylabel("training l2 (sampled strokes)")
  ax.set_yscale("log")
  ax.set_title("PBT population (red) vs fixed hyper-parameters (blue), equal frames")
  ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  root = os.path.abspath(FLAGS.root)
  os.makedirs(root, exist_ok=True)
  size, interval = FLAGS.population, FLAGS.perturbation_interval
  config = base_config(FLAGS.data_dir, FLAGS.train_split, FLAGS.frames)
  frames_per_update = config.learner.batch_size * config.env.kwargs.episode_length
  starts = population.initial_hypers(population.pbt_settings(config)[1], size, FLAGS.seed)

  summary = train_population(config, root, size, interval, FLAGS.frames, FLAGS.seed)
  for i, hypers in enumerate(starts):
    train_fixed(config, hypers, os.path.join(root, f"fixed_{i}"))

  def validate(workdir):
    figures_, _, _ = measure.evaluate(workdir, FLAGS.validation_split, FLAGS.data_dir,
                                      FLAGS.num_images)
    return figures_

  fixed = []
  for i, hypers in enumerate(starts):
    workdir = os.path.join(root, f"fixed_{i}")
    figures_ = validate(workdir)
    fixed.append({"run": i, "hypers": hypers, "frames": figures_["frames"],
                  "train_l2_last": last_interval_l2(workdir, interval),
                  "l2_mean": figures_["l2_mean"], "l2_ci95": figures_["l2_ci95"],
                  "recognised": figures_.get("recognised")})
  fixed_best = min(fixed, key=lambda r: r["train_l2_last"])
  pbt_figures = validate(summary["best_dir"])
  pbt_curves, members = member_curves(root)
  fixed_curves = {f"fixed run {r['run']}": l2_curve(os.path.join(root, f"fixed_{r['run']}"))
                  for r in fixed}
  plot(pbt_curves, fixed_curves, os.path.join(root, "compare.png"))
  result = {
      "population": size, "frames_per_run": FLAGS.frames, "perturbation_interval": interval,
      "pbt_frames_trained": frames_trained(members, interval, frames_per_update),
      "fixed_frames_trained": sum(r["frames"] for r in fixed),
      "pbt_exploits": summary["exploits"],
      "pbt_best_l2": pbt_figures["l2_mean"], "pbt_best_l2_ci95": pbt_figures["l2_ci95"],
      "pbt_best_recognised": pbt_figures.get("recognised"),
      "pbt_best_frames": pbt_figures["frames"],
      "fixed_best_run": fixed_best["run"], "fixed_best_l2": fixed_best["l2_mean"],
      "fixed_best_l2_ci95": fixed_best["l2_ci95"],
      "fixed_best_recognised": fixed_best["recognised"],
      "fixed_l2_min": min(r["l2_mean"] for r in fixed),
      "fixed_l2_max": max(r["l2_mean"] for r in fixed),
      "blank_l2": pbt_figures["blank_l2"], "split": FLAGS.validation_split,
  }
  with open(os.path.join(root, "compare.json"), "w", encoding="utf-8") as f:
    json.dump({"result": result, "fixed": fixed,
               "pbt_members_last": [m["history"][-1] for m in members]}, f, indent=1)
  for r in fixed:
    print(json.dumps(r), flush=True)
  print(json.dumps(result), flush=True)


if __name__ == "__main__":
  flags.mark_flag_as_required("data_dir")
  app.run(main)
