"""MNIST, conditional, with -l2 to the target as the reward (paper Fig. 8's comparison)."""

from experiments.configs import base


def get_config(size="small"):
  config = base.get_config(size)
  config.learner.reward = "l2"
  config.learner.discriminator = "conditional"  # trained for its metrics; not the reward
  # As the paper notes, l2 alone teaches the agent to paint nothing; penalise an empty canvas.
  config.learner.empty_canvas_cost = 0.1
  if size == "small":
    base.small_painting(config)
  return config
