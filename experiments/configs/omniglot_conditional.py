"""Omniglot, conditional (paper section 4.4): reconstruct handwritten characters; the MNIST
conditional set-up on Omniglot's background split.

Data: a directory holding images_background/ (or its zip) from the Omniglot repository, via
--data_dir; built once into tensorflow-datasets (spiral_jax.data.tfds_builders).
"""

from experiments.configs import mnist_conditional


def get_config(size="small"):
  config = mnist_conditional.get_config(size)
  config.data.name = "omniglot"
  config.data.split = "background"
  return config
