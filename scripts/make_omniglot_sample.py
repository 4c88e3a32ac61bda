"""Writes spiral_jax/data/samples/omniglot_sample.npz from the original Omniglot files.

  python scripts/make_omniglot_sample.py --omniglot_dir=/data/omniglot

It holds the `omniglot` agent's held-out test drawings: the background split's last three
alphabets (Syriac, Tagalog, Tifinagh; background[17380:] in the order the tfds builder writes the
split, 1,900 drawings), as test_images (uint8 105x105, 255 = ink, like the built dataset),
test_alphabets, test_characters and test_drawers.
"""

import argparse
import os

import numpy as np

from experiments.configs import omniglot_long
from spiral_jax.data import images
from spiral_jax.data import tfds_builders


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--omniglot_dir", required=True,
                      help="The directory holding images_background/ (or its zip).")
  parser.add_argument("--out", default=images.OMNIGLOT_SAMPLE)
  args = parser.parse_args()
  source = tfds_builders.open_images("omniglot", args.omniglot_dir, omniglot_long.TEST, 105,
                                     True).source
  examples = source.__getitems__(list(range(len(source))))
  text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
  arrays = {"test_images": np.stack([np.asarray(e["image"], np.uint8).reshape(105, 105)
                                     for e in examples]),
            "test_alphabets": np.array([text(e["alphabet"]) for e in examples]),
            "test_characters": np.array([e["character_id"] for e in examples], np.int32),
            "test_drawers": np.array([e["drawer"] for e in examples], np.int32)}
  tmp = args.out + ".tmp.npz"
  np.savez_compressed(tmp, **arrays)
  os.replace(tmp, args.out)
  print(f"{args.out}: {len(examples)} drawings, {os.path.getsize(args.out) / 1e6:.2f} MB")


if __name__ == "__main__":
  main()
