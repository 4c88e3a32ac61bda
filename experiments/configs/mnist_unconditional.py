"""MNIST, unconditional (paper section 4.3): D reward, a small penalty for each new continuous
stroke (digits drawn in one motion) and a penalty for an empty canvas.

The small size also takes the conditional recipe (docs/levers.md): SPIRAL++'s temporal credit
(each stroke rewarded with the change it made to D's score), the location heads' convolutional
branch and a policy learning rate of 1e-3. The `mnist_unconditional` agent was trained with it.
"""

from experiments.configs import base


def get_config(size="small"):
  config = base.get_config(size)
  config.learner.discriminator = "unconditional"
  config.learner.new_stroke_cost = 0.05
  config.learner.empty_canvas_cost = 0.5
  if size == "small":
    base.small_painting(config)
    config.learner.temporal_credit = True
    config.policy.location_skip_channels = 16
    config.learner.policy_learning_rate = 1e-3
  return config
