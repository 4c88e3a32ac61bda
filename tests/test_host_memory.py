"""The huge-page tunable: the environment it builds, and the re-run of a real command."""

import os
import subprocess
import sys

from absl.testing import absltest

from spiral_jax import host_memory

PRINT_TUNABLES = ("from spiral_jax import host_memory; host_memory.reexec_with_hugepages(); "
                  "import os, sys; print(os.environ.get('GLIBC_TUNABLES', '-'), sys.argv[1:])")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(environ):
  environ = dict(environ, PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, "-c", PRINT_TUNABLES, "a", "--b=1"], env=environ,
                        capture_output=True, text=True, check=True, timeout=120).stdout.strip()


class HostMemoryTest(absltest.TestCase):

  def test_environment_keeps_other_tunables(self):
    env = host_memory.environment_with_hugepages({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    self.assertEqual(env["GLIBC_TUNABLES"], "glibc.malloc.arena_max=2:" + host_memory.TUNABLE)
    self.assertTrue(host_memory.enabled(env))
    self.assertEqual(host_memory.environment_with_hugepages(env), env)
    self.assertFalse(host_memory.enabled({}))

  def test_command_reruns_itself_once_with_the_tunable(self):
    base = {k: v for k, v in os.environ.items()
            if k not in ("GLIBC_TUNABLES", "SPIRAL_JAX_HUGEPAGES")}
    out = run(base)
    if sys.platform.startswith("linux"):
      self.assertEqual(out, f"{host_memory.TUNABLE} ['a', '--b=1']")
    self.assertEqual(run(dict(base, SPIRAL_JAX_HUGEPAGES="0")), "- ['a', '--b=1']")


if __name__ == "__main__":
  absltest.main()
