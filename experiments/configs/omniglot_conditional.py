"""Omniglot, conditional (paper section 4.4): reconstruct handwritten characters.

Data: a directory holding images_background/ (or its zip) from the Omniglot repository, via
--data_dir; built once into tensorflow-datasets (spiral_jax.data.tfds_builders).
"""

from experiments.configs import base


def get_config(size="small"):
  config = base.get_config(size)
  config.data.name = "omniglot"
  config.data.split = "background"
  config.learner.discriminator = "conditional"
  if size == "small":
    base.small_painting(config)
  return config
