"""Measures an agent: the one function behind `spiral-jax evaluate`, `spiral-jax ship` and the
lever study (`experiments/levers.py`). A conditional agent paints targets it did not train on; an
unconditional one paints samples.

Figures: `l2_mean` and `l2_ci95` (mean squared error per pixel to the target, with a 95%
confidence interval), `recognised` (the share of paintings that the shipped MNIST classifier labels
as their target's label; MNIST only), `blank_l2` (the l2 of the environment's first canvas, a blank
one or an empty scene, to the same targets)
and `num_images`. Unconditional MNIST agents: `confident`, `class_min_share` and
`class_share_0` ... `class_share_9` of their sampled paintings (`classifier.sample_quality`).
MuJoCo Scenes agents: the scene-matching scores (`environments.scene_matching`) and, where an MCMC
record of the same scenes is at hand (a shipped agent's, or `mcmc_dir`'s mcmc.json),
`mcmc_l2_5000`: the MCMC baseline's l2 after 5,000 renderer calls per scene.
"""

import os

import jax
import numpy as np

from experiments import setups
from spiral_jax import classifier as classifier_lib
from spiral_jax import evaluation
from spiral_jax import mcmc
from spiral_jax import rollout_search
from spiral_jax import training

MCMC_CALLS = 5000  # the renderer calls per scene of the MCMC figure evaluate reports


def evaluate(workdir=None, split=None, data_dir=None, num_images=1000, batch_size=64,
             greedy=True, renderer=None, seed=0, agent=None, dataset=None, mcmc_dir=None,
             search=0):
  """Runs the agent on targets; returns (summary dict, renders, targets). An unconditional agent
  paints num_images samples instead (targets: None). mcmc_dir: an MCMC run (experiments.mcmc)
  of a scene agent's targets, for `mcmc_l2_5000` (default: the record a shipped agent carries).
  search: paint each target with `spiral_jax.rollout_search` trying this many of the agent's
  actions per step (0: the agent alone), a conditional agent of the JAX renderer only."""
  config, params, info = setups.load_agent(agent, workdir)
  if not training.training_config(config).conditional:
    if search:
      raise ValueError("The rollout search (--search) paints towards targets; this agent is "
                       "unconditional. Leave out --search.")
    return _samples(config, params, info, num_images, batch_size, renderer, seed, agent)
  setups.choose_targets(config, bool(agent), split, data_dir, dataset, renderer, num_images)
  setup, labels = setups.make_setup(config, with_labels=True, in_memory=True)
  policy, _, _ = training.build_agent(config, setup)
  targets = setup.images.first(min(num_images, len(setup.images)))
  key = jax.random.PRNGKey(seed)
  actions = None  # the episodes' actions, where the environment is a dm_env
  if search:
    if setup.functional_env is None:
      raise ValueError(f"The rollout search (--search) plays the agent in the JAX renderer; "
                       f"this agent paints with {config.env.name!r}. Leave out --search or "
                       "--renderer.")
    renders = rollout_search.search_programs(setup.functional_env, policy, params, targets,
                                             search, key).final_canvas
  elif setup.functional_env is not None:
    renders = evaluation.reconstruct_functional(setup.functional_env, policy, params, targets,
                                                key, batch_size, greedy)
  else:
    renders, actions = evaluation.reconstruct_dm_env(setup.env_factory, policy, params, targets,
                                                     key, batch_size, greedy)
  summary = evaluation.l2_summary(renders, targets)
  blank = np.broadcast_to(_first_canvas(setup), targets.shape)
  summary["blank_l2"] = float(np.mean(evaluation.l2_per_image(blank, targets)))
  if labels is not None and config.data.name.startswith("mnist"):
    summary["recognised"] = classifier_lib.recognised(classifier_lib.load(), renders,
                                                      labels[:num_images])
  if labels is not None and config.data.name == "mujoco_scenes":
    summary.update(_scene_scores(config, actions, labels[:num_images]))
    record = (mcmc.load_curve_record(os.path.join(mcmc_dir, mcmc.RECORD_FILE)) if mcmc_dir
              else info.get("mcmc"))
    if record and _same_scenes(record, config, len(targets)):
      summary[f"mcmc_l2_{MCMC_CALLS}"] = mcmc.mcmc_l2_after(record, MCMC_CALLS)
    elif mcmc_dir:
      raise ValueError(f"The MCMC run in {mcmc_dir} ran on {record['split']} of other scenes "
                       f"than these ({_scenes_of(config, len(targets))}); give --split and "
                       "--num_images to match it.")
  if search:
    summary["search"] = int(search)
  summary.update({"dataset": config.data.name, "split": config.data.split, "greedy": greedy,
                  "renderer": config.env.name, "frames": int(info.get("frames", 0)),
                  "updates": int(info.get("updates", 0))})
  if agent:
    summary["agent"] = info["agent"]
  return summary, renders, targets


def _samples(config, params, info, num_images, batch_size, renderer, seed, agent):
  """(summary, samples, None) of an unconditional agent: num_images sampled paintings."""
  if renderer:
    config.env.name = renderer
  setup = setups.make_setup(config, load_data=False)
  policy, _, _ = training.build_agent(config, setup)
  key = jax.random.PRNGKey(seed)
  if setup.functional_env is not None:
    renders = evaluation.sample_functional(setup.functional_env, policy, params, num_images, key,
                                           batch_size)
  else:
    renders, _ = evaluation.sample_dm_env(setup.env_factory, policy, params, num_images, key,
                                          batch_size)
  summary = {"num_images": int(len(renders))}
  if config.data.name.startswith("mnist"):
    summary.update(classifier_lib.sample_quality(classifier_lib.load(), renders))
  summary.update({"dataset": config.data.name, "sampled": True, "renderer": config.env.name,
                  "frames": int(info.get("frames", 0)), "updates": int(info.get("updates", 0))})
  if agent:
    summary["agent"] = info["agent"]
  return summary, renders, None


def _first_canvas(setup):
  """The canvas an episode starts from (white paper; the empty platform for MuJoCo Scenes)."""
  env = setup.env_factory()
  try:
    return np.asarray(env.reset().observation["canvas"], np.float32)
  finally:
    close = getattr(env, "close", None)
    if close:
      close()


def _scenes_of(config, count):
  """The scenes an evaluation of `count` targets ran on, as a sliced split: "test[:100]"."""
  split = config.data.split
  return split if "[" in split else f"{split}[:{count}]"


def _same_scenes(record, config, count):
  """Whether an MCMC record was measured on these targets: the same split, count and scenes
  (canvas, grid, sizes, colours; the chains' slots are their own)."""
  scene = setups.scene_config(config.env).to_dict()
  theirs = dict(record.get("scene", {}))
  same_config = all(theirs.get(k) == v for k, v in scene.items() if k != "episode_length")
  return record.get("split") == _scenes_of(config, count) and same_config


def _scene_scores(config, actions, scenes):
  """Matching scores of the agent's scene programs against the true scenes
  (`environments.scene_matching`)."""
  from environments import programs  # pylint: disable=import-outside-toplevel
  from environments import scene_matching  # pylint: disable=import-outside-toplevel
  scene = setups.scene_config(config.env)
  predicted = [programs.SceneProgram(scene, evaluation.episode_steps(episode)).objects
               for episode in actions]
  return scene_matching.score_scenes(predicted, scenes, scene)
