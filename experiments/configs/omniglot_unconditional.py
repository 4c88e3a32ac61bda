"""Omniglot, unconditional (paper section 4.4): generate characters; the MNIST set-up's penalties.

Data: a directory holding images_background/ (or its zip) from the Omniglot repository, via
--data_dir; built once into tensorflow-datasets (spiral_jax.data.tfds_builders).
"""

from experiments.configs import base


def get_config(size="small"):
  config = base.get_config(size)
  config.data.name = "omniglot"
  config.data.split = "background"
  config.learner.discriminator = "unconditional"
  config.learner.new_stroke_cost = 0.05
  config.learner.empty_canvas_cost = 0.5
  if size == "small":
    base.small_painting(config)
  return config
