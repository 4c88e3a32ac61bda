"""Huge pages for the host's large buffers (glibc's `glibc.malloc.hugetlb=1` tunable).

XLA:CPU allocates a learner update's activations (gigabytes for the paper config) afresh on every
call; glibc maps them with 4 KiB pages, and the kernel's page faults on first touch then cost as
much as the arithmetic. With the tunable glibc asks for transparent huge pages instead: measured
here, the paper-config policy update runs about 1.6x faster (see the README).

glibc reads tunables only when a process starts, so the command-line entry points re-run
themselves once with it set (`reexec_with_hugepages`). Set SPIRAL_JAX_HUGEPAGES=0 to opt out.
"""

import os
import platform
import sys

TUNABLE = "glibc.malloc.hugetlb=1"
_OPT_OUT = "SPIRAL_JAX_HUGEPAGES"


def enabled(environ=None):
  """Whether this process was started with the tunable."""
  environ = os.environ if environ is None else environ
  return TUNABLE in environ.get("GLIBC_TUNABLES", "").split(":")


def environment_with_hugepages(environ=None):
  """A copy of environ with the tunable added to GLIBC_TUNABLES (others kept)."""
  environ = dict(os.environ if environ is None else environ)
  if not enabled(environ):
    tunables = [t for t in environ.get("GLIBC_TUNABLES", "").split(":") if t]
    environ["GLIBC_TUNABLES"] = ":".join(tunables + [TUNABLE])
  return environ


def reexec_with_hugepages():
  """Replaces this process by the same command with the tunable set, unless it is set already,
  the user opted out, or this is not Linux with glibc. Call it first thing in a command's main,
  before any work: nothing done earlier survives."""
  if (enabled() or os.environ.get(_OPT_OUT) == "0" or platform.system() != "Linux"
      or platform.libc_ver()[0] != "glibc"):
    return
  argv = getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, [sys.executable] + list(argv[1:]), environment_with_hugepages())
