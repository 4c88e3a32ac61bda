"""CelebA, conditional (paper section 4.5): reconstruct faces in colour, 20 steps, with the
earth mover's distance between colour histograms as an extra penalty.

Data: a directory holding img_align_celeba/ (or its zip), via --data_dir; images are
centre-cropped and resized to the canvas.
"""

from experiments.configs import base


def get_config(size="small"):
  config = base.get_config(size)
  config.data.name = "celeba"
  config.env.kwargs.grayscale = False
  config.learner.discriminator = "conditional"
  config.learner.colour_histogram_weight = 1.0
  if size == "small":
    base.small_painting(config, episode_length=20)
  return config
