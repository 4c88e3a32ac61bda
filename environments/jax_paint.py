"""A pure-JAX painting renderer with libmypaint's action semantics: jit, vmap, grad, any device.

The same stroke programs as `environments.libmypaint` (see `environments.paint_actions`), rendered
inside jit so that environment steps can run batched on the accelerator next to the policy.

Strokes are drawn by `environments.jax_brush` (dabs placed as libmypaint places them, each a
Gaussian, the stroke's opacity one small matrix product), which is differentiable in every
continuous stroke parameter.

Functional environment, in the style of gymnax:

  params = default_params(PaintConfig(...))
  state, timestep = reset(key, params)
  state, timestep = step(key, state, action, params)
  state, timestep = relaxed_step(key, state, action, relaxed, params)   # differentiable

Both are pure and jittable; vmap them for a batch. `timestep` is a `dm_env.TimeStep` of arrays:
step_type 0/1/2 (FIRST/MID/LAST), reward 0, discount (0 on FIRST and LAST, else 1), and the same
observation dict as LibMyPaint. A step on a finished episode starts a new one, as dm_env does.
`relaxed_step` takes the stroke's parameters from a vector over each component's values (exact
for one-hot vectors), so that gradients of the canvas reach the agent's sampled actions.

Inside jit, actions are not validated (there is no way to raise): each component is clipped into
its range (a location's x and y separately), and any flag other than 0 paints. The dm_env adapter
`JaxPaint` validates actions first and raises the same ValueErrors as LibMyPaint.
"""

import dataclasses
import functools

import dm_env
from flax import struct
import jax
import jax.numpy as jnp
import numpy as np

from environments import paint_actions
from environments import painting
# The brush's names, as this module has always offered them.
from environments.jax_brush import (  # pylint: disable=unused-import
    CALIBRATED_BRUSHES, NUM_DABS, PEN, BrushModel, dabs_alpha, render_stroke, stroke_dabs)


@struct.dataclass
class EnvParams:
  config: paint_actions.PaintConfig = struct.field(pytree_node=False)
  brush: BrushModel = PEN
  num_dabs: int = struct.field(pytree_node=False, default=NUM_DABS)


@struct.dataclass
class EnvState:
  canvas: jnp.ndarray  # (W, W, C) float32
  location: jnp.ndarray  # (2,) int32 grid (x, y)
  start: jnp.ndarray  # (2,) float32 pixels: where the next stroke starts (`location`'s pixel)
  previous_pressure: jnp.ndarray  # float32; < 0 after a reset or a move
  actual: jnp.ndarray  # (2,) float32 pixels: the smoothed brush position
  carry: jnp.ndarray  # float32: dab spacings travelled since the last dab
  episode_step: jnp.ndarray  # int32
  last_flag: jnp.ndarray  # int32: -1 after a reset, else the previous action's flag (0 or 1)


def default_params(config=None, brush=None):
  """EnvParams for a config (default: the paper's colour 64x64 set-up)."""
  config = paint_actions.PaintConfig() if config is None else config
  if brush is None:
    if config.brush not in CALIBRATED_BRUSHES:
      raise ValueError(
          f"The JAX renderer has no model of brush {config.brush!r}; calibrated brushes: "
          f"{sorted(CALIBRATED_BRUSHES)}. Pass brush=BrushModel(...) to use your own.")
    brush = CALIBRATED_BRUSHES[config.brush]
  return EnvParams(config=config, brush=brush)


# The functional environment.

def _clip_action(action, config):
  out = {}
  for name, is_location, high in paint_actions._bounds(config):  # pylint: disable=protected-access
    value = jnp.asarray(action[name]).astype(jnp.int32)
    out[name] = jnp.clip(value, 0, high)
  out["flag"] = jnp.minimum(jnp.abs(jnp.asarray(action["flag"]).astype(jnp.int32)), 1)
  return out


def _observation(state, config):
  none, move, paint = paint_actions.action_masks(config)
  mask = {name: jnp.where(state.last_flag < 0, none[name],
                          jnp.where(state.last_flag == paint_actions.PAINT, paint[name],
                                    move[name])).astype(jnp.float32)
          for name in config.components}
  return {"canvas": state.canvas, "episode_step": state.episode_step,
          "brush_location": state.location, "action_mask": mask}


def _initial_state(config):
  w = config.canvas_size
  return EnvState(canvas=jnp.ones((w, w, config.channels), jnp.float32),
                  location=jnp.zeros((2,), jnp.int32),
                  start=jnp.zeros((2,), jnp.float32),
                  previous_pressure=jnp.float32(-1.0),
                  actual=jnp.zeros((2,), jnp.float32),
                  carry=jnp.float32(0.0),
                  episode_step=jnp.int32(0),
                  last_flag=jnp.int32(-1))


def _first_timestep(state, config):
  return dm_env.TimeStep(step_type=jnp.int32(dm_env.StepType.FIRST), reward=jnp.float32(0.0),
                         discount=jnp.float32(0.0), observation=_observation(state, config))


def reset(key, params):
  """Starts an episode: a white canvas, the brush at the top-left corner."""
  del key  # the renderer is deterministic
  state = _initial_state(params.config)
  return state, _first_timestep(state, params.config)


def _levels(config):
  return (jnp.asarray(paint_actions.pressure_levels(config), jnp.float32),
          jnp.asarray(paint_actions.colour_levels(config), jnp.float32),
          jnp.asarray(config.brush_sizes, jnp.float32))


def _pixel(location, config):
  return jnp.stack(paint_actions.grid_to_pixel(location.astype(jnp.float32), config))


def _stroke(action, config):
  """An action's stroke parameters: paint weight (1 paints), end and control in pixels, radius,
  pressure and colour."""
  pressures, colours, sizes = _levels(config)
  if config.grayscale:
    colour = jnp.zeros((1,), jnp.float32)
  else:
    colour = jnp.stack([colours[action[c]] for c in paint_actions.COLOUR_COMPONENTS])
  return {"paint": (action["flag"] == paint_actions.PAINT).astype(jnp.float32),
          "end": _pixel(action["end"], config), "control": _pixel(action["control"], config),
          "radius": sizes[action["size"]], "pressure": pressures[action["pressure"]],
          "colour": colour}


def _relaxed_stroke(relaxed, config):
  """The same parameters as expectations under a vector over each component's values (exact
  for one-hot vectors; see `relaxed_step`)."""
  pressures, colours, sizes = _levels(config)
  g = config.grid_size
  cells = jnp.stack([jnp.arange(g * g) % g, jnp.arange(g * g) // g], -1).astype(jnp.float32)
  location = lambda v: _pixel(v @ cells, config)
  if config.grayscale:
    colour = jnp.zeros((1,), jnp.float32)
  else:
    colour = jnp.stack([relaxed[c] @ colours for c in paint_actions.COLOUR_COMPONENTS])
  return {"paint": relaxed["flag"][paint_actions.PAINT], "end": location(relaxed["end"]),
          "control": location(relaxed["control"]), "radius": relaxed["size"] @ sizes,
          "pressure": relaxed["pressure"] @ pressures, "colour": colour}


def step(key, state, action, params):
  """Applies one action (clipped into range); a step after the last one starts a new episode."""
  action = _clip_action(action, params.config)
  return _apply(key, state, action, _stroke(action, params.config), params)


def relaxed_step(key, state, action, relaxed, params):
  """`step` of `action`, with its stroke's parameters taken from `relaxed`: for each component
  a vector over its values (a location's over grid cells, index y * G + x), e.g. the policy's
  straight-through samples (`Policy.relaxed_step`). The end, control point, radius, pressure,
  colour and the paint flag's weight are the vectors' expectations, so the canvas is
  differentiable in them; for one-hot vectors of `action`'s values the step equals `step`."""
  action = _clip_action(action, params.config)
  return _apply(key, state, action, _relaxed_stroke(relaxed, params.config), params)


def _apply(key, state, action, stroke, params):
  config = params.config
  paint = action["flag"] == paint_actions.PAINT
  pressure = stroke["pressure"]
  start_pressure = jnp.where(state.previous_pressure < 0, pressure, state.previous_pressure)
  centres, radii, spacing, valid, actual, carry = stroke_dabs(
      state.actual, state.carry, state.start, stroke["control"], stroke["end"], stroke["radius"],
      start_pressure, pressure, params.brush, params.num_dabs)
  alpha = stroke["paint"] * dabs_alpha(centres, radii, spacing, valid, params.brush,
                                       config.canvas_size, config.canvas_size)[..., None]
  painted = EnvState(canvas=state.canvas + (stroke["colour"] - state.canvas) * alpha,
                     location=action["end"],
                     start=stroke["end"],
                     previous_pressure=jnp.where(paint, pressure, -1.0),
                     actual=jnp.where(paint, actual, stroke["end"]),
                     carry=jnp.where(paint, carry, 0.0),
                     episode_step=state.episode_step + 1,
                     last_flag=action["flag"])
  last = painted.episode_step >= config.episode_length
  timestep = dm_env.TimeStep(
      step_type=jnp.where(last, jnp.int32(dm_env.StepType.LAST), jnp.int32(dm_env.StepType.MID)),
      reward=jnp.float32(0.0), discount=jnp.where(last, 0.0, 1.0).astype(jnp.float32),
      observation=_observation(painted, config))
  # dm_env semantics: stepping a finished episode starts a new one and ignores the action.
  finished = state.episode_step >= config.episode_length
  fresh_state, fresh_timestep = reset(key, params)
  choose = functools.partial(jax.tree.map, lambda a, b: jnp.where(finished, a, b))
  return choose(fresh_state, painted), choose(fresh_timestep, timestep)


def render_program(program, canvas_size=None, brush=None, num_dabs=NUM_DABS):
  """Renders a recorded Program with the JAX renderer (optionally at another canvas size)."""
  config = program.config if canvas_size is None else program.config.scaled(canvas_size)
  config = dataclasses.replace(config, episode_length=max(1, len(program.actions)))
  params = dataclasses.replace(default_params(config, brush), num_dabs=num_dabs)
  return np.asarray(render_actions(stack_actions(program.actions, config), params))


def stack_actions(actions, config):
  """A list of action dicts -> a dict of int32 arrays with a leading time axis."""
  return {name: np.asarray([a[name] for a in actions], np.int32).reshape(
      (len(actions),) + ((2,) if name in paint_actions.LOCATION_COMPONENTS else ()))
          for name in config.components}


@jax.jit
def render_actions(actions, params):
  """The final canvas of a program given as a dict of (T, ...) action arrays; vmap for batches."""
  state, _ = reset(None, params)

  def body(state, action):
    state, _ = step(None, state, action, params)
    return state, None

  state, _ = jax.lax.scan(body, state, actions)
  return state.canvas


# The dm_env adapter.

class JaxPaint(painting.PaintingEnvironment):
  """The JAX renderer as a `dm_env.Environment`: a drop-in for LibMyPaint (same arguments, specs,
  observations and ValueErrors for bad actions)."""

  def __init__(self, canvas_size=64, grid_size=32, grayscale=False,
               brush=paint_actions.DEFAULT_BRUSH, brush_sizes=paint_actions.DEFAULT_BRUSH_SIZES,
               pressure_levels=10, colour_bins=20, episode_length=20, brush_model=None):
    config = paint_actions.PaintConfig(
        canvas_size=canvas_size, grid_size=grid_size, grayscale=grayscale, brush=brush,
        brush_sizes=brush_sizes, pressure_levels=pressure_levels, colour_bins=colour_bins,
        episode_length=episode_length)
    self._config = config
    self._params = default_params(config, brush_model)
    self._reset = jax.jit(reset)
    self._step = jax.jit(step)
    self._state = None
    self._actions = []
    self._key = jax.random.PRNGKey(0)

  @property
  def params(self):
    return self._params

  def reset(self):
    self._state, timestep = self._reset(self._key, self._params)
    self._actions = []
    return dm_env.TimeStep(dm_env.StepType.FIRST, None, None, _to_numpy(timestep.observation))

  def step(self, action):
    if self._state is None or int(self._state.episode_step) >= self.config.episode_length:
      return self.reset()
    checked = paint_actions.validate_action(action, self.config)
    device_action = {name: np.asarray(value, np.int32) for name, value in checked.items()}
    self._state, timestep = self._step(self._key, self._state, device_action, self._params)
    self._actions.append(checked)
    step_type = dm_env.StepType(int(timestep.step_type))
    return dm_env.TimeStep(step_type, np.float32(timestep.reward), np.float32(timestep.discount),
                           _to_numpy(timestep.observation))

  def close(self):
    self._state = None


def _to_numpy(observation):
  return jax.tree.map(np.asarray, observation)
