"""MNIST, conditional, painted by libmypaint actor threads (the paper's set-up, Fig. 2b)."""

from experiments.configs import mnist_conditional


def get_config(size="small"):
  config = mnist_conditional.get_config(size)
  config.env.name = "libmypaint"
  config.mode = "threaded"
  # Measured on 2 cores (benchmarks/training_throughput.py): three actor threads keep the queue
  # full, and D at twice the policy's rate (the paper's "higher rate") balances the learner.
  config.num_actors = 3
  config.envs_per_actor = 16
  config.learner.discriminator_steps = 2
  return config
