"""Omniglot, unconditional (paper section 4.4): generate characters; the MNIST set-up's penalties.

Data: a directory of Omniglot's PNGs (e.g. the unzipped images_background/), via --data_dir.
"""

from experiments.configs import base


def get_config(size="small"):
  config = base.get_config(size)
  config.data.name = "folder"
  config.learner.discriminator = "unconditional"
  config.learner.new_stroke_cost = 0.05
  config.learner.empty_canvas_cost = 0.5
  if size == "small":
    base.small_painting(config)
  return config
