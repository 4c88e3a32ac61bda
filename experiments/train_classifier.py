"""Trains the MNIST classifier behind `recognised` and writes the weights that ship.

  python -m experiments.train_classifier --data_dir=/data/mnist     # ~5 minutes on 2 cores

Trains on the MNIST train split at the main job's canvas size (32x32, as the agent's paintings
are seen), measures accuracy on the test split, and writes spiral_jax/pretrained/
mnist_classifier.npz (float16 weights and that accuracy). The last line is one JSON object.
"""

import json

from absl import app
from absl import flags

from spiral_jax import classifier as classifier_lib
from spiral_jax.data import datasets

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "The original MNIST files.")
flags.DEFINE_integer("epochs", 4, "Passes over the train split.")
flags.DEFINE_integer("canvas_size", 32, "Canvas size the digits are brought to first.")
flags.DEFINE_string("out", classifier_lib.WEIGHTS, "Where the weights go.")


def main(argv):
  del argv
  if not FLAGS.data_dir:
    raise app.UsageError("Give the original MNIST files: --data_dir=DIR.")
  train = datasets.load_labelled("mnist", FLAGS.data_dir, "train", FLAGS.canvas_size)
  test = datasets.load_labelled("mnist", FLAGS.data_dir, "test", FLAGS.canvas_size)
  classifier = classifier_lib.train(*train, *test, epochs=FLAGS.epochs)
  classifier.save(FLAGS.out)
  print(json.dumps(dict(classifier.info, path=FLAGS.out)))


if __name__ == "__main__":
  app.run(main)
