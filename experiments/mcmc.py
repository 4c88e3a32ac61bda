"""The blocked Metropolis-Hastings baseline on held-out MuJoCo Scenes (paper section 4.6, Fig. 9).

Runs one chain per held-out scene (the dataset's test split) for a budget of renderer calls and
logs the mean l2 to the targets against the calls, as `MCMC_DIR/metrics.jsonl` ("frames" is the
renderer calls per scene), so that `spiral-jax figures --compare` can put it next to training
runs. With --agent=RUN_WORKDIR a trained conditional MuJoCo agent is run on the same scenes (one
pass: `episode_length` renderer calls per scene) and both go into one plot, `MCMC_DIR/fig9.png`;
--agent may also name a shipped agent (mujoco_scenes). `MCMC_DIR/mcmc.json` records the chains'
curve and settings (`spiral_jax.mcmc.curve_record`): `experiments.ship --mcmc_dir` stores it in
the agent, and `spiral-jax evaluate` reports `mcmc_l2_5000` from it on the same scenes.

  python -m experiments.mcmc --num_scenes=100 --calls=5000 --mcmc_dir=outputs/mcmc
  python -m experiments.mcmc --agent=outputs/mujoco --mcmc_dir=outputs/mcmc
  python -m experiments.mcmc --agent=mujoco_scenes --mcmc_dir=outputs/mcmc
"""

import dataclasses
import json
import os

from absl import app
from absl import flags
from absl import logging
import numpy as np

from environments import mujoco_scenes
from environments import mujoco_scenes_dataset
from spiral_jax import mcmc
from spiral_jax import metrics as metrics_lib
from spiral_jax import pictures

FLAGS = flags.FLAGS
flags.DEFINE_string("mcmc_dir", "outputs/mcmc", "Where metrics.jsonl and the pictures go.")
flags.DEFINE_integer("num_scenes", 100, "Held-out scenes (the first N of the test split).")
flags.DEFINE_integer("calls", 5000, "Renderer calls per scene.")
flags.DEFINE_integer("num_slots", 20, "Object slots in the latent trace.")
flags.DEFINE_float("variance", 0.25, "The Gaussian likelihood's fixed diagonal variance.")
flags.DEFINE_integer("mcmc_seed", 0, "Seed of the chains.")
flags.DEFINE_string("agent", None, "A trained conditional MuJoCo Scenes run (its directory) or "
                    "shipped agent to compare with.")


def log_schedule(calls, per_decade=10):
  """Renderer-call counts to log at: evenly spaced on a log scale, and 20 (one SPIRAL pass)."""
  points = np.unique(np.round(np.logspace(0, np.log10(max(calls, 1)), per_decade * 5)))
  return sorted({int(p) for p in points} | {20})


def scene_renderer(config):
  """render(blocks) for MCMC traces: each block an object's attributes (an action's components)."""
  renderer = mujoco_scenes.SceneRenderer(config)

  def render(blocks):
    return renderer.render([mujoco_scenes.SceneObject.from_action(b) for b in blocks])

  return render, renderer


def run_mcmc(num_scenes, calls, workdir, num_slots=20, variance=0.25, seed=0, config=None):
  """Runs the chains, writes metrics.jsonl; returns (history, targets, final renders)."""
  config = config or mujoco_scenes.SceneConfig(episode_length=num_slots)
  images, _ = mujoco_scenes_dataset.generate(num_scenes, seed=mujoco_scenes_dataset.TEST_SEED,
                                             config=config)
  targets = images.astype(np.float32) / 255.0
  render, renderer = scene_renderer(config)
  try:
    history, chains = mcmc.run(render, targets, mujoco_scenes.action_spec(config), calls,
                               seed=seed, num_slots=num_slots, variance=variance,
                               log_calls=log_schedule(calls))
  finally:
    renderer.close()
  os.makedirs(workdir, exist_ok=True)
  writer = metrics_lib.MetricsWriter(workdir)
  try:
    for record in history:
      writer.write(record)
  finally:
    writer.close()
  return history, targets, np.stack([c.image for c in chains])


def _load(agent):
  """(config, params, info) of a run directory or a shipped agent."""
  from experiments import setups  # pylint: disable=import-outside-toplevel
  if os.path.isdir(agent):
    return setups.load_agent(workdir=agent)
  return setups.load_agent(agent=agent)


def agent_l2(agent, targets):
  """(l2 mean, renderer calls per scene) of a trained agent's (a run directory or a shipped
  agent) greedy pass over the targets."""
  import jax  # pylint: disable=import-outside-toplevel
  from experiments import setups  # pylint: disable=import-outside-toplevel
  from spiral_jax import evaluation  # pylint: disable=import-outside-toplevel
  from spiral_jax import training  # pylint: disable=import-outside-toplevel
  config, params, _ = _load(agent)
  setup = setups.make_setup(config, load_data=False)  # the targets are given
  if tuple(setup.observation_spec["canvas"].shape) != tuple(targets.shape[1:]):
    raise ValueError(f"The agent paints {setup.observation_spec['canvas'].shape} canvases, the "
                     f"scenes are {targets.shape[1:]}.")
  policy, _, _ = training.build_agent(config, setup)
  renders, _ = evaluation.reconstruct_dm_env(setup.env_factory, policy, params, targets,
                                             jax.random.PRNGKey(0), greedy=True)
  return evaluation.l2_summary(renders, targets)["l2_mean"], setup.episode_length


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  if FLAGS.calls < 1 or FLAGS.num_scenes < 1:
    raise app.UsageError("--calls and --num_scenes must be at least 1.")
  config = None
  if FLAGS.agent:  # the scenes the agent was trained on (canvas size, grid, sizes, colours)
    from experiments import setups  # pylint: disable=import-outside-toplevel
    run_config, _, _ = _load(FLAGS.agent)
    if run_config.env.name != "mujoco_scenes":
      raise ValueError(f"{FLAGS.agent} trained on {run_config.env.name!r}, not 'mujoco_scenes'.")
    config = dataclasses.replace(setups.scene_config(run_config.env),
                                 episode_length=FLAGS.num_slots)
  config = config or mujoco_scenes.SceneConfig(episode_length=FLAGS.num_slots)
  history, targets, renders = run_mcmc(FLAGS.num_scenes, FLAGS.calls, FLAGS.mcmc_dir,
                                       FLAGS.num_slots, FLAGS.variance, FLAGS.mcmc_seed, config)
  record = mcmc.curve_record(history, f"test[:{FLAGS.num_scenes}]",
                             num_scenes=FLAGS.num_scenes, seed=FLAGS.mcmc_seed,
                             variance=FLAGS.variance, num_slots=FLAGS.num_slots,
                             scene=config.to_dict())
  metrics_lib.write_atomically(os.path.join(FLAGS.mcmc_dir, mcmc.RECORD_FILE),
                               json.dumps(record))
  pictures.save_png(pictures.reconstructions(targets[:32], renders[:32]),
                    os.path.join(FLAGS.mcmc_dir, "mcmc_reconstructions.png"))
  series = {"MCMC": ([r["frames"] for r in history], [r["l2"] for r in history])}
  summary = {"num_scenes": FLAGS.num_scenes, "renderer_calls": history[-1]["frames"],
             "mcmc_l2": history[-1]["l2"],
             "acceptance": history[-1]["acceptance"]}
  at_20 = [r["l2"] for r in history if r["frames"] == 20]  # none when --calls is under 20
  if at_20:
    summary["mcmc_l2_at_20_calls"] = at_20[0]
  if FLAGS.agent:
    l2, calls = agent_l2(FLAGS.agent, targets)
    series["SPIRAL (one pass)"] = ([calls, history[-1]["frames"]], [l2, l2])
    summary.update({"spiral_l2": l2, "spiral_renderer_calls": calls})
  pictures.learning_curves(series, os.path.join(FLAGS.mcmc_dir, "fig9.png"),
                           title="l2 against renderer calls per scene",
                           x_label="renderer calls", y_label="l2")
  print(json.dumps(summary))


if __name__ == "__main__":
  app.run(main)
