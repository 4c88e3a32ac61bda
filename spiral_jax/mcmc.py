"""Blocked Metropolis-Hastings over discrete programs: the paper's MCMC baseline (section 4.6).

The latent state is a *trace*: `num_slots` object slots, each a block of attributes (the integer
components of an environment's action spec: scalars and (x, y) grid locations) plus a presence
flag. A renderer the caller gives turns the present slots into an image. Each proposal picks one
slot uniformly and re-samples its whole block (presence included) uniformly. That proposal is
symmetric, so a proposal x' is accepted with probability min(1, p(t | x') / p(t | x)), where the
likelihood is a Gaussian around the target image t with fixed diagonal variance (0.25 in the
paper):

  log p(t | x) = -||render(x) - t||^2 / (2 variance)  + const.

Every proposal costs one renderer call; `run` logs the l2 distance (mean squared error per pixel,
as training reports it) of the current state against the number of calls. Nothing here knows any
particular environment: the attributes come from a dm_env action spec through `spiral_jax.specs`.
"""

import dataclasses
from typing import Callable, Dict, List, Sequence

import numpy as np

from spiral_jax import specs as specs_lib

PRESENT = "present"


def log_likelihood(image, target, variance=0.25):
  """Gaussian log-likelihood (up to a constant) of `target` around a rendered `image`."""
  diff = np.asarray(image, np.float64) - np.asarray(target, np.float64)
  return -0.5 * float(np.sum(np.square(diff))) / variance


def accept(log_alpha, u):
  """The Metropolis-Hastings rule: accept when u < min(1, exp(log_alpha)), u ~ U[0, 1)."""
  return bool(np.log(max(u, 1e-300)) < min(0.0, log_alpha))


def random_block(rng, components):
  """One slot's attributes, each uniform over its values, and a uniform presence flag."""
  block = {}
  for comp in components:
    if comp.is_location:
      block[comp.name] = (int(rng.integers(comp.grid[0])), int(rng.integers(comp.grid[1])))
    else:
      block[comp.name] = int(rng.integers(comp.num_values))
  block[PRESENT] = bool(rng.integers(2))
  return block


def empty_trace(components, num_slots):
  """A trace with every slot absent (attributes at 0): the empty scene."""
  zero = {c.name: ((0, 0) if c.is_location else 0) for c in components}
  return [dict(zero, **{PRESENT: False}) for _ in range(num_slots)]


def present(trace):
  """The blocks of the present slots, in slot order (what the renderer draws)."""
  return [{k: v for k, v in block.items() if k != PRESENT} for block in trace if block[PRESENT]]


@dataclasses.dataclass
class Chain:
  """A blocked MH chain on one target. `render(blocks) -> image` draws a list of blocks."""
  render: Callable[[List[Dict]], np.ndarray]
  target: np.ndarray
  components: Sequence[specs_lib.Component]
  num_slots: int = 20
  variance: float = 0.25

  def __post_init__(self):
    self.target = np.asarray(self.target, np.float32)
    self.trace = empty_trace(self.components, self.num_slots)
    self.image = np.asarray(self.render(present(self.trace)), np.float32)
    self.log_likelihood = log_likelihood(self.image, self.target, self.variance)
    self.calls = 1
    self.accepted = 0

  @property
  def l2(self):
    return float(np.mean(np.square(self.image.astype(np.float64) - self.target)))

  def step(self, rng):
    """One proposal: re-sample a random slot's block, render, accept or reject."""
    slot = int(rng.integers(self.num_slots))
    proposal = list(self.trace)
    proposal[slot] = random_block(rng, self.components)
    image = np.asarray(self.render(present(proposal)), np.float32)
    self.calls += 1
    proposed = log_likelihood(image, self.target, self.variance)
    if accept(proposed - self.log_likelihood, rng.random()):
      self.trace, self.image, self.log_likelihood = proposal, image, proposed
      self.accepted += 1
      return True
    return False


def components_of(action_spec, exclude=("mode",)):
  """The attribute components of an action spec (those the renderer's objects are made of)."""
  return tuple(c for c in specs_lib.components(action_spec) if c.name not in exclude)


def run(render, targets, action_spec, num_calls, seed=0, num_slots=20, variance=0.25,
        log_calls=(), exclude=("mode",)):
  """Runs one chain per target for `num_calls` renderer calls each.

  Returns (history, chains): history is a list of {"frames": calls, "renderer_calls": calls,
  "l2": mean l2 over the targets, "acceptance": fraction of proposals accepted} at each call count
  in `log_calls` (and at the end), in the training metrics' format.
  """
  components = components_of(action_spec, exclude)
  rngs = [np.random.default_rng([seed, i]) for i in range(len(targets))]
  chains = [Chain(render, t, components, num_slots, variance) for t in targets]
  checkpoints = sorted({int(c) for c in log_calls if 0 < c < num_calls} | {1, int(num_calls)})
  history = []
  calls = 1
  for checkpoint in checkpoints:
    while calls < checkpoint:
      for chain, rng in zip(chains, rngs):
        chain.step(rng)
      calls += 1
    proposals = max(calls - 1, 1)
    history.append({"frames": calls, "renderer_calls": calls,
                    "l2": float(np.mean([c.l2 for c in chains])),
                    "acceptance": float(np.mean([c.accepted for c in chains])) / proposals})
  return history, chains


RECORD_FILE = "mcmc.json"  # a chain run's `curve_record`, in its directory


def curve_record(history, split, **settings):
  """A chain run's l2 against renderer calls as a small JSON-able record (what a shipped scene
  agent carries for `mcmc_l2_after`): the scenes it ran on (`split`, e.g. "test[:100]"), the call
  counts and mean l2s logged, and any settings (seed, variance, the scenes' config ...)."""
  return dict(settings, split=split, calls=[int(r["frames"]) for r in history],
              l2=[float(r["l2"]) for r in history],
              acceptance=float(history[-1]["acceptance"]))


def mcmc_l2_after(record, calls):
  """The chains' mean l2 after `calls` renderer calls per scene, from a `curve_record`; a
  ValueError if the chains ran fewer calls (or the record is malformed)."""
  try:
    logged = [(int(c), float(l2)) for c, l2 in zip(record["calls"], record["l2"])]
  except (KeyError, TypeError, ValueError) as e:
    raise ValueError(f"Not an MCMC curve record: {e}") from e
  reached = [l2 for c, l2 in logged if c <= calls]
  if not logged or max(c for c, _ in logged) < calls:
    raise ValueError(f"The MCMC chains ran {max((c for c, _ in logged), default=0)} renderer "
                     f"calls per scene, fewer than {calls}; run experiments.mcmc with "
                     f"--calls={calls} or more.")
  return reached[-1]


def load_curve_record(path):
  """A `curve_record` saved as JSON (experiments.mcmc writes MCMC_DIR/RECORD_FILE)."""
  import json  # pylint: disable=import-outside-toplevel
  try:
    with open(path, encoding="utf-8") as f:
      record = json.load(f)
    mcmc_l2_after(record, 1)
  except (OSError, ValueError) as e:
    raise ValueError(f"Cannot read the MCMC record {path}: {e}. Write one with "
                     "`python -m experiments.mcmc --mcmc_dir=DIR`.") from e
  return record
