"""Omniglot, unconditional (paper section 4.4): generate characters; the MNIST unconditional
set-up (its penalties included) on Omniglot's background split.

Data: a directory holding images_background/ (or its zip) from the Omniglot repository, via
--data_dir; built once into tensorflow-datasets (spiral_jax.data.tfds_builders).
"""

from experiments.configs import mnist_unconditional


def get_config(size="small"):
  config = mnist_unconditional.get_config(size)
  config.data.name = "omniglot"
  config.data.split = "background"
  return config
