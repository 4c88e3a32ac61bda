"""MNIST, conditional (paper section 4.3): reconstruct digits; reward from a conditional D."""

from experiments.configs import base


def get_config(size="small"):
  config = base.get_config(size)
  config.learner.discriminator = "conditional"
  config.learner.reward = "discriminator"
  if size == "small":
    base.small_painting(config)
  return config
