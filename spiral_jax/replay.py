"""The discriminator's replay of generated final renders (paper section 3.4).

The policy learner adds each batch of final renders; the discriminator learner samples uniformly
from the last `capacity` renders (the paper: 20 batches of 64), so D can update at its own, higher
rate. What an item holds (the render, with its target for conditional kinds) is the discriminator
kind's `replay_item`.

Two rings of the same behaviour, one per training mode:
  * `Replay`, on the host (threaded mode): memory allocated once, up front, and never grows.
    Thread-safe: one thread may add while another samples. `state()` / `restore()` let a
    checkpoint carry the replay across a resume.
  * `ring_add` / `ring_sample`, pure functions on a device array (Anakin), for use inside jit.
"""

import threading
from typing import Tuple

import chex
import jax
import jax.numpy as jnp
import numpy as np


class Replay:
  """A bounded ring buffer of items of one shape and dtype (e.g. (64, 64, 3) float32 renders)."""

  def __init__(self, capacity, item_shape, dtype=np.float32):
    if capacity < 1:
      raise ValueError(f"Replay capacity must be positive, got {capacity}.")
    self.capacity = int(capacity)
    self.item_shape = tuple(item_shape)
    self._items = np.zeros((self.capacity,) + self.item_shape, dtype)
    self._next = 0  # where the next item goes
    self._size = 0
    self._added = 0  # items added over the buffer's life
    self._lock = threading.Lock()

  def __len__(self):
    return self._size

  @property
  def total_added(self):
    return self._added

  def add(self, batch):
    """Adds a batch (N, *item_shape); the oldest items make room once the buffer is full."""
    batch = np.asarray(batch)
    if batch.shape[1:] != self.item_shape:
      raise ValueError(f"Replay holds items of shape {self.item_shape}; got a batch of shape "
                       f"{batch.shape}.")
    added = batch.shape[0]
    batch = batch[-self.capacity:]  # a batch larger than the buffer keeps its newest items
    n = batch.shape[0]
    with self._lock:
      first = min(n, self.capacity - self._next)
      self._items[self._next:self._next + first] = batch[:first]
      self._items[:n - first] = batch[first:]
      self._next = (self._next + n) % self.capacity
      self._size = min(self.capacity, self._size + n)
      self._added += added

  def sample(self, rng, batch_size):
    """A uniform sample (with replacement) of batch_size stored items, as a new array."""
    with self._lock:
      if self._size == 0:
        raise ValueError("Cannot sample from an empty replay: add generated renders first.")
      return self._items[rng.integers(0, self._size, size=batch_size)]

  def state(self):
    """Everything needed to restore the buffer exactly (for checkpoints); `items` always has
    `capacity` rows (rows past `size` are unused), so a checkpoint's shapes never change."""
    with self._lock:
      return {"items": self._items.copy(), "next": np.int64(self._next),
              "size": np.int64(self._size), "added": np.int64(self._added)}

  def restore(self, state):
    items = np.asarray(state["items"])
    size, next_index = int(state["size"]), int(state["next"])
    if items.shape[1:] != self.item_shape or not 0 <= size <= self.capacity or (
        not size <= items.shape[0] <= self.capacity) or not 0 <= next_index < self.capacity:
      raise ValueError(f"Replay state does not fit this replay (capacity {self.capacity}, items "
                       f"{self.item_shape}): items {items.shape}, size {size}, next {next_index}.")
    with self._lock:
      self._items[:len(items)] = items
      self._next, self._size, self._added = next_index, size, int(state["added"])


# The device ring (Anakin): whole batches, written at a slot the caller derives from its iteration.

def ring_add(items: chex.Array, size: chex.Array, batch: chex.Array,
             slot: chex.Array) -> Tuple[chex.Array, chex.Array]:
  """Writes `batch` (n, ...) into the ring `items` (capacity, ...) at row `slot`; returns the new
  ring and its size (how many rows hold items)."""
  chex.assert_equal(items.shape[1:], batch.shape[1:])
  items = jax.lax.dynamic_update_slice(items, batch.astype(items.dtype),
                                       (slot,) + (0,) * (items.ndim - 1))
  return items, jnp.minimum(size + batch.shape[0], items.shape[0])


def ring_sample(items: chex.Array, size: chex.Array, key: chex.Array, n: int) -> chex.Array:
  """n items drawn uniformly (with replacement) from the first `size` rows of the ring."""
  return items[jax.random.randint(key, (n,), 0, size)]
