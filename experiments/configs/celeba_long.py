"""The `celeba` agent (paper section 4.5, Fig. 7): faces in colour on the paper's painting set-up
of `mnist_long` (64x64 canvas, 32x32 grid, 20 strokes, small networks), with the colour-histogram
earth mover's penalty, and the last 500 images of the data kept out of training:

  train[:-500]   training (for the 9,000 images 000001-009000: the first 8,500)
  train[-500:]   the held-out test set

  python -m experiments.train --config=experiments/configs/celeba_long.py \
      --data_dir=/data/celeba --workdir=runs/celeba      # hours; --resume continues

The shipped `celeba` agent was not trained this way: it clones programs that greedy search found
for the training faces (`experiments.trace_expert --expert=greedy`, then `experiments.imitate`
with this config; the README's CelebA notes have the commands).

--data_dir holds img_align_celeba/ (or its zip); the images are streamed as uint8 from the tfds
builder, so the full CelebA (about 200k faces) trains in bounded memory.
"""

from experiments.configs import base
from experiments.configs import mnist_long

TRAIN = "train[:-500]"
TEST = "train[-500:]"


def get_config(size="small"):
  config = mnist_long.get_config(size)
  base.held_out(config, "celeba", TRAIN, TEST)
  config.env.kwargs.grayscale = False
  config.learner.colour_histogram_weight = 1.0
  return config
