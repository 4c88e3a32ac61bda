"""Writes spiral_jax/data/samples/mnist_sample.npz from the original MNIST files.

  python scripts/make_mnist_sample.py --mnist_dir=/data/mnist

It holds the first 10,000 train digits (train_images, train_labels, train_indices) and the 1,000
test digits drawn with numpy.random.default_rng(0) (test_images, test_labels, test_indices),
uint8 28x28 with 255 = ink, as in the original files.
"""

import argparse
import os

import numpy as np

from spiral_jax.data import images

NUM_TRAIN = 10000
NUM_TEST = 1000


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--mnist_dir", required=True)
  parser.add_argument("--out", default=images.MNIST_SAMPLE)
  args = parser.parse_args()
  arrays = {}
  test_indices = np.sort(np.random.default_rng(0).choice(10000, NUM_TEST, replace=False))
  for split, indices in (("train", np.arange(NUM_TRAIN)), ("test", test_indices)):
    arrays[f"{split}_images"] = images.mnist(args.mnist_dir, split)[indices]
    arrays[f"{split}_labels"] = images.mnist_labels(args.mnist_dir, split)[indices]
    arrays[f"{split}_indices"] = indices
  tmp = args.out + ".tmp.npz"
  np.savez_compressed(tmp, **arrays)
  os.replace(tmp, args.out)
  print(f"{args.out}: {os.path.getsize(args.out) / 1e6:.2f} MB")


if __name__ == "__main__":
  main()
