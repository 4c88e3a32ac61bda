"""MNIST, unconditional (paper section 4.3): D reward, a small penalty for each new continuous
stroke (digits drawn in one motion) and a penalty for an empty canvas."""

from experiments.configs import base


def get_config(size="small"):
  config = base.get_config(size)
  config.learner.discriminator = "unconditional"
  config.learner.new_stroke_cost = 0.05
  config.learner.empty_canvas_cost = 0.5
  if size == "small":
    base.small_painting(config)
  return config
