"""Test set-up shared by every test module."""

import os
import sys

# absltest.TestCase helpers (create_tempfile, ...) read absl flags; pytest never parses them.
from absl import flags

if not flags.FLAGS.is_parsed():
  flags.FLAGS.mark_as_parsed()

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.dont_write_bytecode = True
