"""A trajectory: one episode as the learner needs it, one pytree.

Everything that crosses from actors to learners is a `Trajectory`: numpy on the host, arrays on
device. Leaves with a time axis hold T = episode length entries, one per action; `final_canvas` is
the render after the last action (what the discriminator judges); `target` is the image a
conditional agent reconstructs (None for an unconditional one).

A single trajectory has leading axis (T,); actors hand over batches (B, T, ...), and `time_major`
turns a batch into the (T, B, ...) layout of the losses.
"""

from typing import Dict, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np


class Trajectory(NamedTuple):
  canvas: np.ndarray  # (T, H, W, C): the canvas each action was chosen on
  prev_action: Dict[str, np.ndarray]  # (T, ...): the action before each step (zeros at FIRST)
  action_mask: Dict[str, np.ndarray]  # (T,): which components of prev_action were used
  first: np.ndarray  # (T,) bool: True at the episode's first step
  action: Dict[str, np.ndarray]  # (T, ...)
  behaviour_log_prob: np.ndarray  # (T,): log mu(a_t | s_t) of the actor's policy
  final_canvas: np.ndarray  # (H, W, C)
  target: Optional[np.ndarray] = None  # (H, W, C) for conditional agents


_TIMED = ("canvas", "prev_action", "action_mask", "first", "action", "behaviour_log_prob")


def time_major(batch):
  """(B, T, ...) -> (T, B, ...) for the time-indexed fields; final_canvas and target stay (B, ...)."""
  swap = lambda x: jnp.swapaxes(x, 0, 1)
  return batch._replace(**{name: jax.tree.map(swap, getattr(batch, name)) for name in _TIMED})


def num_steps(batch):
  """Environment steps (frames) in a batch-major trajectory batch."""
  return int(np.prod(np.shape(batch.first)))
