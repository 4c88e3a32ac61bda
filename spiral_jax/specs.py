"""Reading an environment's action spec: which components are scalars, which are grid locations.

The agent never imports an environment. It learns the shape of the action space from the
dm_env spec alone, by two rules:

  * a component with integer bounds and shape () is a *scalar* choice among `num_values` values
    (a `dm_env.specs.DiscreteArray`, or a `BoundedArray` with minimum 0);
  * a component with integer bounds and shape (2,) is a *location* (x, y) on a
    `width x height` grid, x in [0, width-1] and y in [0, height-1]: the policy gives it a
    spatial head with one logit per grid cell, cell index y * width + x.

Anything else is refused with a message saying what the agent supports.
"""

import dataclasses
from typing import Mapping, Tuple

from dm_env import specs
import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Component:
  """One action component as the agent sees it."""
  name: str
  kind: str  # "scalar" or "location"
  num_values: int  # choices for a scalar; grid cells (width * height) for a location
  grid: Tuple[int, int] = ()  # (width, height) for a location
  dtype: np.dtype = np.dtype(np.int32)

  @property
  def is_location(self):
    return self.kind == "location"


def _integer_bounds(spec, name):
  if not isinstance(spec, specs.BoundedArray) or np.dtype(spec.dtype).kind not in "iu":
    raise ValueError(
        f"Action component {name!r} has spec {spec!r}: the agent supports integer components "
        "only, a DiscreteArray (a choice) or a BoundedArray of shape (2,) (a grid location).")
  low, high = np.broadcast_to(spec.minimum, spec.shape), np.broadcast_to(spec.maximum, spec.shape)
  if np.any(low != 0):
    raise ValueError(f"Action component {name!r} must have minimum 0, got {spec.minimum!r}.")
  return high


def component(name, spec):
  """Describes one action component from its spec."""
  high = _integer_bounds(spec, name)
  if spec.shape == ():
    return Component(name, "scalar", int(high) + 1, dtype=np.dtype(spec.dtype))
  if spec.shape == (2,):
    width, height = int(high[0]) + 1, int(high[1]) + 1
    return Component(name, "location", width * height, (width, height), np.dtype(spec.dtype))
  raise ValueError(f"Action component {name!r} has shape {spec.shape}: the agent supports shape () "
                   "(a choice) or (2,) (an (x, y) grid location).")


def components(action_spec: Mapping[str, specs.Array]):
  """All components of a dict action spec, in the spec's order."""
  if not isinstance(action_spec, Mapping) or not action_spec:
    raise ValueError("The agent needs a non-empty dict action spec, one entry per component; got "
                     f"{action_spec!r}.")
  return tuple(component(name, spec) for name, spec in action_spec.items())


def _array_module(x):
  return jnp if isinstance(x, jax.Array) else np


def location_to_index(location, grid):
  """(x, y) -> flat grid cell index y * width + x (numpy or JAX arrays of shape (..., 2))."""
  if not hasattr(location, "shape"):
    location = np.asarray(location)
  return location[..., 1] * grid[0] + location[..., 0]


def index_to_location(index, grid):
  """Flat grid cell index -> (x, y), shape (..., 2) (numpy or JAX arrays)."""
  xp = _array_module(index)
  index = xp.asarray(index)
  return xp.stack([index % grid[0], index // grid[0]], axis=-1)


# Specs as data: a shipped agent carries the specs it was trained with, so that it can be loaded
# without its environment.

def action_spec_to_json(action_spec):
  """A dict action spec as a JSON-able list, one entry per component (in order)."""
  return [{"name": c.name, "shape": [2] if c.is_location else [],
           "maximum": [g - 1 for g in c.grid] if c.is_location else c.num_values - 1,
           "dtype": c.dtype.name} for c in components(action_spec)]


def action_spec_from_json(entries):
  """The dict action spec `action_spec_to_json` wrote (DiscreteArrays and BoundedArrays)."""
  spec = {}
  for entry in entries:
    dtype = np.dtype(entry.get("dtype", "int32"))
    if entry["shape"]:
      spec[entry["name"]] = specs.BoundedArray(tuple(entry["shape"]), dtype, 0,
                                               np.asarray(entry["maximum"]), name=entry["name"])
    else:
      spec[entry["name"]] = specs.DiscreteArray(int(entry["maximum"]) + 1, dtype,
                                                name=entry["name"])
  return spec


def canvas_spec(shape):
  """The observation spec the agent needs: a float canvas of `shape` (H, W, C) in [0, 1]."""
  return {"canvas": specs.BoundedArray(tuple(shape), np.float32, 0.0, 1.0, name="canvas")}
