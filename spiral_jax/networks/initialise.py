"""Network initialisation, compiled once.

Run op by op, a Haiku `init` compiles one small XLA program per parameter initialiser, and on CPU
those (threefry random bits) take about a second each to compile: tens of seconds for the policy.
`run_once` jits the whole init and compiles it without XLA's optimisation passes, which it does
not need: it runs once. The parameters equal the op-by-op ones to float32 rounding.
"""

import jax

_ONCE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def run_once(fn, *args):
  """fn(*args), jitted and compiled without optimisation (called inside a trace, plainly)."""
  if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(args)):
    return fn(*args)
  return jax.jit(fn).lower(*args).compile(_ONCE)(*args)
