"""Omniglot, conditional (paper section 4.4): reconstruct handwritten characters.

Data: a directory of Omniglot's PNGs (e.g. the unzipped images_background/), via --data_dir.
"""

from experiments.configs import base


def get_config(size="small"):
  config = base.get_config(size)
  config.data.name = "folder"
  config.learner.discriminator = "conditional"
  if size == "small":
    base.small_painting(config)
  return config
