"""MNIST, conditional, painted by libmypaint actor threads (the paper's set-up, Fig. 2b)."""

from experiments.configs import mnist_conditional


def get_config(size="small"):
  config = mnist_conditional.get_config(size)
  config.env.name = "libmypaint"
  config.mode = "threaded"
  config.num_actors = 2
  config.envs_per_actor = 16
  return config
