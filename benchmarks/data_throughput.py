"""Reading speed of the data pipeline: batches of 64 MNIST images at 64x64, from the tfds
array_record data source (random access), converted to canvas floats and resized.

  python -m benchmarks.data_throughput --mnist_dir=../shared/datasets/mnist

Builds the tfds dataset once (into a temporary directory unless --tfds_dir is given), then times
--repeats batches and reports the median. The last line is one JSON object with batch64_ms.
"""

import json
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

from spiral_jax.data import images
from spiral_jax.data import tfds_builders

FLAGS = flags.FLAGS
flags.DEFINE_string("mnist_dir", "../shared/datasets/mnist", "The original MNIST files.")
flags.DEFINE_string("tfds_dir", None, "Where the tfds dataset is built (default: a temp dir).")
flags.DEFINE_integer("repeats", 200, "Timed batches.")
flags.DEFINE_integer("size", 64, "Canvas size.")


def main(argv):
  del argv
  with tempfile.TemporaryDirectory() as tmp:
    builder = tfds_builders.SpiralMnist(data_dir=FLAGS.tfds_dir or tmp)
    tfds_builders.prepare(builder, FLAGS.mnist_dir)
    pipeline = images.SourceImages(builder.as_data_source(split="train"), FLAGS.size)
    pipeline.batch(64, 0)
    times = []
    for i in range(FLAGS.repeats):
      start = time.perf_counter()
      batch = pipeline.batch(64, i + 1)
      times.append(time.perf_counter() - start)
    assert batch.shape == (64, FLAGS.size, FLAGS.size, 1), batch.shape
  median = float(np.median(times)) * 1000
  print(json.dumps({"batch64_ms": round(median, 3), "images_per_s": round(64 / median * 1000),
                    "size": FLAGS.size, "repeats": FLAGS.repeats}))


if __name__ == "__main__":
  app.run(main)
