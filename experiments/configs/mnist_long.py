"""The paper's painting set-up for MNIST (section 4.3): 64x64 canvas, 32x32 grid, 20 strokes, the
paper's six brush sizes and ten pressures, the full MNIST train split, with the small networks
and the lever study's recipe (docs/levers.md). It trains the shipped `mnist` agent:

  python -m experiments.train --config=experiments/configs/mnist_long.py \
      --data_dir=/data/mnist --workdir=runs/mnist_long          # hours; --resume continues

and continues it from the shipped file (its policy and D) in a new run, at the widths it ships
with (a narrower run is refused, naming them):

  python -m experiments.train --config=experiments/configs/mnist_long.py \
      --data_dir=/data/mnist --workdir=runs/mnist_more --config.init_from=mnist \
      --config.policy.torso_channels=32 --config.policy.fc_size=256 --config.policy.lstm_size=256

The shipped agent's last 10.47 M frames were such continuations with the l2 reward, on
train[:55000] (train[55000:56000] for validation): add --config.data.split='train[:55000]'
--config.learner.reward=l2 --config.learner.reward_scale=100 (README, the paper's set-up); at
first at the small networks' widths and policy_learning_rate=5e-4, then with the learning rate
falling from 3e-4 over 2,000 updates (policy_learning_rate=3e-4,
policy_learning_rate_decay_updates=2000), which beat a constant 5e-4, and last, widened to the
sizes above, from 2e-4 over 2,000 updates (3.53 M frames; docs/levers.md).

get_config takes "small" (the small networks; the default) or "paper" (the paper's networks).
"""

from experiments.configs import base
from experiments.configs import mnist_conditional


def get_config(size="small"):
  config = mnist_conditional.get_config("paper")  # the paper's painting set-up
  config.size = size
  if size == "small":
    small = base.get_config("small")
    config.policy = small.policy
    config.policy.location_skip_channels = 16
    config.discriminator = small.discriminator
    config.learner.policy_learning_rate = 1e-3
  config.data.name = "mnist"
  config.max_minutes = 0.0
  config.checkpoint_every_minutes = 10.0
  config.picture_every_minutes = 10.0
  return config
