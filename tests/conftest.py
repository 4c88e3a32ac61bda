"""Test set-up shared by every test module."""

import getpass
import os
import sys
import tempfile

# absltest.TestCase helpers (create_tempfile, ...) read absl flags; pytest never parses them.
from absl import flags

if not flags.FLAGS.is_parsed():
  flags.FLAGS.mark_as_parsed()

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.dont_write_bytecode = True

# Many tests compile the same small networks and updates, in this process, in the other pytest
# worker and in the command-line runs they start: JAX's persistent compilation cache (inherited by
# subprocesses through the environment) compiles each program once per machine. A size limit
# turns on the cache's file lock, so that the workers never read an entry being written.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), f"spiral-jax-tests-{getpass.getuser()}",
                                   "jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(4 << 30))
