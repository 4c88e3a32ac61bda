"""MNIST, conditional, with a "blind" agent that never sees its intermediate canvases (4.3)."""

from experiments.configs import mnist_conditional


def get_config(size="small"):
  config = mnist_conditional.get_config(size)
  config.blind = True
  return config
