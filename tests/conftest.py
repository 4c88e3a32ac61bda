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
# subprocesses through the environment) compiles each of those programs once per machine. Only
# programs that take a second or more to compile are kept: caching the thousands of single
# operations that eager tests compile made them several times slower. (An entry read while the
# other worker writes it fails to load, and JAX then compiles the program instead.)
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), f"spiral-jax-tests-{getpass.getuser()}",
                                   "jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")
