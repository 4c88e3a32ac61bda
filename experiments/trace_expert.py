"""How well programs traced from the target's own ink paint it (not in the paper): the expert
that behaviour cloning of traced programs would copy, measured like an agent.

  python -m experiments.trace_expert --data_dir=/data/mnist --split='train[55000:56000]'
  python -m experiments.trace_expert --config=experiments/configs/mnist_conditional.py:small \
      --data_dir=/data/mnist --split='train[55000:56000]'
  python -m experiments.trace_expert --data_dir=/data/mnist --split='train[:10000]' \
      --out=runs/traced.npz       # demonstrations for `experiments.imitate --traced=...`

For each picture, `environments.traced_programs.best_programs` thins its ink to a skeleton, walks
the skeleton as pen-down runs, fits quadratic strokes on the config's grid within the episode's
steps, and keeps, of each tolerance x brush size x pressure, the program whose JAX rendering is
closest to the picture. Colour pictures have no ink to trace: for them (and for any config with
`--expert=greedy`) `environments.greedy_programs` searches each step's stroke against the picture
and colours it in closed form:

  python -m experiments.trace_expert --config=experiments/configs/celeba_long.py \
      --dataset=celeba --data_dir=/data/celeba --split='train[:1200]' --out=runs/greedy.npz

`--expert=search` improves a trained agent instead (`spiral_jax.rollout_search`): at each step
it tries the agent's most likely action and samples of it, finishes the episode greedily from each
and keeps the one that ends closest to the picture; its programs, cloned into the agent
(`experiments.imitate --config.init_from=AGENT --traced=FILE`), are one round of expert
iteration (docs/levers.md). The file also holds every candidate the search tried and how each
finished, for `experiments.imitate --objective=candidates`:

  python -m experiments.trace_expert --expert=search --agent=omniglot --dataset=omniglot \
      --data_dir=/data/omniglot --split='background[:4000]' --out=runs/search.npz

The expert sees its target's pixels, so its figures bound what copying it could reach. The last
line is one JSON object: `l2_mean`, `l2_ci95`, `recognised` (MNIST's classifier, for MNIST),
`blank_l2`, `num_images`, `strokes_mean` (painted strokes per program).
"""

import json
import os

from absl import app
from absl import flags
import jax
import numpy as np
import tqdm
from ml_collections import config_flags

from environments import greedy_programs
from environments import traced_programs
from experiments import setups
from spiral_jax import checkpoint as checkpoint_lib
from spiral_jax import classifier as classifier_lib
from spiral_jax import evaluation
from spiral_jax import rollout_search
from spiral_jax import training
from spiral_jax.data import datasets

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    "config", os.path.join(os.path.dirname(__file__), "configs", "mnist_long.py"),
    "A painting config (grey canvas): its canvas, grid, steps, sizes and pressures.")
flags.DEFINE_string("dataset", "", "The pictures: mnist (default with --data_dir), mnist_sample "
                    "(the shipped sample; default without), or any grey dataset the loaders know "
                    "(omniglot, folder, ...).")
flags.DEFINE_string("data_dir", None, "Where the dataset is (for MNIST, the IDX files).")
flags.DEFINE_string("split", "train[55000:56000]", "Which pictures (default: the validation "
                    "digits the agents never train on).")
flags.DEFINE_list("tolerances", ["1.0", "1.5", "2.5"], "How far (pixels) a stroke may stray from "
                  "the skeleton; one candidate program per tolerance, size and pressure.")
flags.DEFINE_list("sizes", [], "Brush size indices to try (default: all of the config's).")
flags.DEFINE_list("pressures", [], "Pressure indices to try (default: all of the config's).")
flags.DEFINE_integer("trace_size", 128, "Trace the pictures at this size when the canvas is "
                     "smaller (a finer skeleton; the programs are the same on any canvas). 128 "
                     "paints closer than 64 (docs/levers.md) and takes about three times as long.")
flags.DEFINE_string("out", None, "Also write the programs and their targets to this .npz: "
                    "demonstrations for `experiments.imitate --traced=FILE`.")
flags.DEFINE_enum("expert", "", ["", "traced", "greedy", "search"], "How programs are found: "
                  "traced from the ink's skeleton (environments.traced_programs; the default for "
                  "grey canvases), by greedy search against the picture "
                  "(environments.greedy_programs; the default for colour canvases), or by a "
                  "trained agent's rollout search (spiral_jax.rollout_search; needs --agent or "
                  "--workdir, whose config replaces --config).")
flags.DEFINE_string("agent", None, "--expert=search: a shipped agent (name or agent file).")
flags.DEFINE_string("workdir", None, "--expert=search: a training run (its newest checkpoint).")
flags.DEFINE_integer("candidates", 0, "Actions tried per step: --expert=greedy's random strokes "
                     "(0: 64), --expert=search's proposals of the agent (0: 4).")
flags.DEFINE_integer("rounds", 1, "--expert=greedy: rounds of small changes to the best stroke.")
flags.DEFINE_bool("straight", False, "--expert=greedy: straight strokes (control point on the "
                  "end) at full pressure: a lower-entropy target for cloning (on faces the "
                  "clone did not paint better; docs/levers.md).")
flags.DEFINE_integer("seed", 0, "--expert=greedy: the search's random seed.")
flags.DEFINE_bool("with_targets", True, "Write the pictures into --out as well (--nowith_targets: "
                  "only the programs, for a dataset whose loader gives the pictures again; "
                  "environments.traced_programs.SHIPPED).")


def main(argv):
  del argv
  config = FLAGS.config
  searched = None
  if FLAGS.expert == "search":
    try:
      config, params, _ = setups.load_agent(FLAGS.agent, FLAGS.workdir)
    except (ValueError, OSError, checkpoint_lib.CheckpointError) as e:
      raise app.UsageError(str(e)) from None
    if config.env.name != "jax_paint":
      raise app.UsageError("--expert=search runs a painting agent of the JAX renderer "
                           f"(env.name 'jax_paint'); this agent's is {config.env.name!r}.")
    searched = params
  elif FLAGS.agent or FLAGS.workdir:
    raise app.UsageError("--agent and --workdir go with --expert=search.")
  if config.env.name not in ("jax_paint", "libmypaint"):
    raise app.UsageError("trace_expert traces pictures for a painting config.")
  paint = setups.paint_config(config.env)
  expert = FLAGS.expert or ("traced" if paint.grayscale else "greedy")
  if expert == "traced" and not paint.grayscale:
    raise app.UsageError("--expert=traced writes programs for grey canvases (black ink); use "
                         "--expert=greedy for colour.")
  try:
    tolerances = [float(t) for t in FLAGS.tolerances]
    sizes = [int(v) for v in FLAGS.sizes] or None
    pressures = [int(v) for v in FLAGS.pressures] or None
    dataset = FLAGS.dataset or ("mnist" if FLAGS.data_dir else "mnist_sample")
    images, labels = datasets.load_labelled(dataset, FLAGS.data_dir, FLAGS.split,
                                            paint.canvas_size, None, paint.grayscale)
    trace_images = None
    if expert == "traced" and FLAGS.trace_size > paint.canvas_size:
      trace_images, _ = datasets.load_labelled(dataset, FLAGS.data_dir, FLAGS.split,
                                               FLAGS.trace_size, None, True)
  except (ValueError, OSError) as e:
    raise app.UsageError(str(e)) from None
  agent_l2 = candidates = None
  if expert == "traced":
    actions, weights, renders, _ = traced_programs.best_programs(
        images, paint, tolerances, sizes, pressures, trace_images=trace_images)
  elif expert == "search":
    setup = setups.make_setup(config, load_data=False)
    policy, _, _ = training.build_agent(config, setup)
    with tqdm.tqdm(total=len(images), unit="pictures", desc="search",
                   disable=not config.progress) as bar:
      try:
        result = rollout_search.search_programs(
            setup.functional_env, policy, searched, images, FLAGS.candidates or 4,
            jax.random.PRNGKey(FLAGS.seed), on_batch=bar.update)
      except ValueError as e:  # an unconditional agent, a negative --candidates
        raise app.UsageError(str(e)) from None
    actions, weights, renders = result.actions, result.weights, result.final_canvas
    agent_l2 = float(np.mean(result.greedy_l2))
    candidates = (result.candidate_actions, result.candidate_weights, result.candidate_l2)
  else:
    try:
      actions, weights, renders, _ = greedy_programs.greedy_programs(
          images, paint, FLAGS.candidates or 64, FLAGS.rounds, FLAGS.seed, straight=FLAGS.straight)
    except ValueError as e:
      raise app.UsageError(str(e)) from None
  if FLAGS.out:
    traced_programs.save(FLAGS.out, paint, actions, weights,
                         images if FLAGS.with_targets else None, candidates)
  summary = evaluation.l2_summary(renders, images)
  blank = evaluation.l2_summary(np.ones_like(images), images)
  figures = {"l2_mean": summary["l2_mean"], "l2_ci95": summary["l2_ci95"]}
  if agent_l2 is not None:
    figures["agent_l2_mean"] = agent_l2
  if labels is not None:
    figures["recognised"] = classifier_lib.recognised(classifier_lib.load(), renders, labels)
  figures.update(blank_l2=blank["l2_mean"], num_images=int(len(images)),
                 strokes_mean=float(np.mean(np.sum(actions["flag"] == 1, axis=1))))
  print(json.dumps(figures))


if __name__ == "__main__":
  app.run(main)
