"""The pieces every experiment config shares; each set-up overrides what it needs.

This is the one source of defaults: `spiral_jax.config.TrainingConfig` (which `spiral_jax.training`
builds from a config) requires every field below and fills none in. Fields:
  size: "small" (CPU) or "paper" (the paper's sizes); seed.
  env: name ("jax_paint", "libmypaint", "mujoco_scenes") and kwargs (the environment's arguments).
  data: name ("mnist", "mnist_sample", ...), data_dir, split, limit (0 = all).
  mode: "anakin" (JAX renderer, one jitted loop) or "threaded" (actor threads, any dm_env).
  num_actors, envs_per_actor, queue_size: the threaded mode's actors (num_actors 0 = the learner
    runs the episodes itself, deterministically); actor_timeout_s: the longest the learner waits
    for the actors' next batch before it stops with an error (0 = forever); env_timeout_s: the
    longest an environment's step() or reset() may take in an actor thread, after the actor's first
    batch, before the run stops with an error naming it (0 = forever).
  iterations_per_call: Anakin iterations per jitted call.
  policy, blind: `spiral_jax.networks.policy.PolicyConfig` fields; a blind agent.
  discriminator: `spiral_jax.networks.discriminator.DiscriminatorConfig` fields.
  learner: `spiral_jax.learner.LearnerConfig` fields (batch size, rewards, optimisers ...).
  max_frames, max_updates, max_minutes: stop at the first reached (0 = no limit).
  checkpoint_every_minutes, checkpoint_every_updates (0 = never; a run always checkpoints at its
    end), checkpoints_to_keep, picture_every_minutes, log_every_updates, progress.
  init_from: "" (fresh networks), or a training run's directory or an agent (a shipped name or an
    agent file) whose networks a new run starts from (fine-tuning; the shapes must match).
  pbt: population-based training (experiments/pbt.py; paper section 3.4): population,
    perturbation_interval (updates between reports, exploits and explores), fitness ("auto": -l2
    for conditional agents, D's score for unconditional ones; or "score", "l2"), and the log-uniform
    ranges (low, high) the members' entropy_cost, policy_learning_rate and
    discriminator_learning_rate are first drawn from and perturbed within.
  imitation: an optional first phase of behaviour cloning (experiments/train.py; not in the
    paper): programs ("" = none; "mnist_sample" = the programs traced from the shipped sample's
    training digits for the main job's set-up, environments/data; or a file of
    `experiments.trace_expert --out`), updates (0 = no cloning), learning_rate,
    learning_rate_final (the fraction it falls to, linearly, over the updates), batch_size (0 =
    the learner's), noise (the share of demonstrated strokes played a cell off). SPIRAL's learners
    then start from the cloned policy for the minutes left of max_minutes, the policy's learning
    rate set to spiral_learning_rate: 0 (the default) holds the policy still while D learns to
    judge its paintings, since every policy learning rate tried undid part of the clone
    (docs/levers.md).
"""

import dataclasses

import ml_collections

from spiral_jax import learner as learner_lib
from spiral_jax.networks import discriminator as disc_lib
from spiral_jax.networks import policy as policy_lib

SIZES = ("small", "paper")


def _fields(config_object):
  return dataclasses.asdict(config_object)


def get_config(size="small"):
  if size not in SIZES:
    raise ValueError(f"Config size must be one of {SIZES}, not {size!r}.")
  small = size == "small"
  config = ml_collections.ConfigDict()
  config.size = size
  config.seed = 0
  config.env = ml_collections.ConfigDict({
      "name": "jax_paint",
      "kwargs": {"canvas_size": 64, "grid_size": 32, "grayscale": True, "episode_length": 20},
  })
  config.data = ml_collections.ConfigDict(
      {"name": "mnist_sample", "data_dir": "", "split": "train", "limit": 0})
  config.mode = "anakin"
  config.num_actors = 2
  config.envs_per_actor = 16
  config.queue_size = 8
  config.actor_timeout_s = 600.0
  config.env_timeout_s = 8.0
  config.init_from = ""
  config.pbt = ml_collections.ConfigDict({
      "population": 12, "perturbation_interval": 200, "fitness": "auto",
      "entropy_cost": (1e-4, 0.1), "policy_learning_rate": (1e-4, 3e-3),
      "discriminator_learning_rate": (3e-5, 1e-3)})
  config.imitation = ml_collections.ConfigDict({
      "programs": "", "updates": 0, "learning_rate": 3e-3, "learning_rate_final": 0.01,
      "batch_size": 0, "noise": 0.1, "spiral_learning_rate": 0.0})
  config.iterations_per_call = 1
  config.policy = _fields(policy_lib.SMALL if small else policy_lib.PAPER)
  config.blind = False
  config.discriminator = _fields(disc_lib.SMALL if small else disc_lib.PAPER)
  # Every LearnerConfig field, at its default (the paper's and SPIRAL++'s settings).
  config.learner = ml_collections.ConfigDict(_fields(learner_lib.LearnerConfig()))
  config.max_frames = 0
  config.max_updates = 0
  config.max_minutes = 10.0 if small else 0.0
  config.checkpoint_every_minutes = 2.0 if small else 10.0
  config.checkpoint_every_updates = 0
  config.checkpoints_to_keep = 3
  config.picture_every_minutes = 1.0 if small else 10.0
  config.log_every_updates = 5
  config.progress = True
  return config


def small_painting(config, canvas_size=32, grid_size=16, episode_length=10):
  """The small CPU painting set-up: a smaller canvas and grid, fewer brush sizes and steps."""
  config.env.kwargs.update({"canvas_size": canvas_size, "grid_size": grid_size,
                            "episode_length": episode_length, "brush_sizes": (1.0, 2.0, 3.0),
                            "pressure_levels": 4})
  return config


def held_out(config, name, train, test):
  """Trains on dataset `name`'s split `train`; `spiral-jax evaluate` measures `test` by default."""
  config.data.name = name
  config.data.split = train
  config.data.test_split = test
  return config
