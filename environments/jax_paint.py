"""A pure-JAX painting renderer with libmypaint's action semantics: jit, vmap, grad, any device.

The same stroke programs as `environments.libmypaint` (see `environments.paint_actions`), rendered
inside jit so that environment steps can run batched on the accelerator next to the policy.

How a stroke is drawn. The quadratic Bezier is sampled into `num_dabs` dabs, evenly in its
parameter. Dab i is a Gaussian of width s_i = max(min(R_i / kappa, sqrt(R_i * edge)), spacing_i),
at that dab (pressure ramps along the stroke as in libmypaint). Its weight makes a straight run of
dabs add up to a density of exactly 1 at distance R from the stroke's spine. Gaussians are
separable, so the stroke's density over the whole canvas is one small matrix product,
rho = Gy^T Gx with Gx: (dabs, W), Gy: (dabs, H). The stroke's opacity is then
alpha = rho^4 / (1 + rho^4): opaque inside the radius, 1/2 at it, clear outside, with an edge
whose width is set by kappa. The stroke composites in one shot:
canvas <- canvas * (1 - alpha) + colour * alpha.

Parameters: `BrushModel` holds the brush's calibration (fitted to libmypaint's default pen by
benchmarks/jax_paint_calibration.py). Everything is differentiable in the continuous stroke
parameters: see `render_stroke`.

Functional environment, in the style of gymnax:

  params = default_params(PaintConfig(...))
  state, timestep = reset(key, params)
  state, timestep = step(key, state, action, params)

Both are pure and jittable; vmap them for a batch. `timestep` is a `dm_env.TimeStep` of arrays:
step_type 0/1/2 (FIRST/MID/LAST), reward 0, discount (0 on FIRST and LAST, else 1), and the same
observation dict as LibMyPaint. A step on a finished episode starts a new one, as dm_env does.

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
from environments import programs


@struct.dataclass
class BrushModel:
  """How brush size and pressure map to the rendered stroke (differentiable).

  Radius (pixels): R = radius * radius_scale * exp(pressure_gain * pressure) + radius_offset.
  Dab width: min(R / kappa, sqrt(R * edge)), at least the dab spacing. The opacity edge is about
  `edge` pixels wide for wide brushes, and soft on brushes thinner than kappa^2 * edge.
  The stroke stops `end_lag * R` pixels short of its end point, as libmypaint's smoothed brush
  position does.
  """
  radius_scale: jnp.ndarray = 1.0
  radius_offset: jnp.ndarray = 0.0
  pressure_gain: jnp.ndarray = 0.5
  kappa: jnp.ndarray = 1.5
  edge: jnp.ndarray = 0.5
  end_lag: jnp.ndarray = 0.0


# Fitted to libmypaint's classic/pen on random programs at 64x64 (see
# benchmarks/jax_paint_calibration.py --fit, which reports the fidelity reached).
PEN = BrushModel(radius_scale=1.0, radius_offset=0.0, pressure_gain=0.5, kappa=1.5, edge=0.5)
CALIBRATED_BRUSHES = {paint_actions.DEFAULT_BRUSH: PEN}
NUM_DABS = 64
_MIN_SPACING = 1e-3


@struct.dataclass
class EnvParams:
  config: paint_actions.PaintConfig = struct.field(pytree_node=False)
  brush: BrushModel = PEN
  num_dabs: int = struct.field(pytree_node=False, default=NUM_DABS)


@struct.dataclass
class EnvState:
  canvas: jnp.ndarray  # (W, W, C) float32
  location: jnp.ndarray  # (2,) int32 grid (x, y)
  previous_pressure: jnp.ndarray  # float32; < 0 after a reset or a move
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


# Stroke rendering.

def stroke_alpha(start, control, end, radius, pressure_start, pressure_end, brush, height, width,
                 num_dabs=NUM_DABS):
  """Opacity (height, width) of one stroke; coordinates are (x, y) in pixels."""
  start, control, end = (jnp.asarray(p, jnp.float32) for p in (start, control, end))

  def bezier(t):
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t ** 2 * end  # (D, 2)

  t = jnp.linspace(0.0, 1.0, num_dabs)[:, None]
  length = jnp.sum(jnp.sqrt(jnp.sum(jnp.square(jnp.diff(bezier(t), axis=0)), axis=-1) + 1e-12))
  end_radius = radius * brush.radius_scale * jnp.exp(brush.pressure_gain * pressure_end)
  t = t * (1.0 - jnp.clip(brush.end_lag * end_radius / length, 0.0, 0.9))
  centres = bezier(t)
  gaps = jnp.sqrt(jnp.sum(jnp.square(jnp.diff(centres, axis=0)), axis=-1) + 1e-12)
  spacing = 0.5 * (jnp.concatenate([gaps[:1], gaps]) + jnp.concatenate([gaps, gaps[-1:]]))
  spacing = jnp.maximum(spacing, _MIN_SPACING)
  pressure = pressure_start + (pressure_end - pressure_start) * t[:, 0]
  radii = radius * brush.radius_scale * jnp.exp(brush.pressure_gain * pressure)
  radii = jnp.maximum(radii + brush.radius_offset, 0.05)
  sigma = jnp.maximum(jnp.minimum(radii / brush.kappa, jnp.sqrt(radii * brush.edge)), spacing)
  # A straight run of these dabs has density exactly 1 at distance R from its spine.
  log_weight = jnp.log(spacing / (sigma * jnp.sqrt(jnp.pi))) + jnp.square(radii / sigma)
  xs = jnp.arange(width, dtype=jnp.float32) + 0.5
  ys = jnp.arange(height, dtype=jnp.float32) + 0.5
  gx = jnp.exp(log_weight[:, None] - jnp.square((xs[None, :] - centres[:, :1]) / sigma[:, None]))
  gy = jnp.exp(-jnp.square((ys[None, :] - centres[:, 1:]) / sigma[:, None]))
  density = jnp.matmul(gy.T, gx, precision=jax.lax.Precision.HIGHEST)  # (H, W)
  q = jnp.square(jnp.square(jnp.minimum(density, 1e3)))  # alpha is 1 - 1e-12 at the clip
  return q / (1.0 + q)


def render_stroke(canvas, start, control, end, radius, pressure_start, pressure_end, colour,
                  brush=PEN, num_dabs=NUM_DABS):
  """Paints one stroke onto a (H, W, C) canvas; differentiable in every float argument.

  Args:
    canvas: float (H, W, C) in [0, 1].
    start, control, end: (x, y) in pixels.
    radius: the brush radius in pixels (before pressure).
    pressure_start, pressure_end: pressure at the two ends, ramped linearly along the stroke.
    colour: (C,) ink colour.
    brush: a BrushModel.
    num_dabs: dabs per stroke.
  """
  alpha = stroke_alpha(start, control, end, radius, pressure_start, pressure_end, brush,
                       canvas.shape[0], canvas.shape[1], num_dabs)[..., None]
  return canvas + (jnp.asarray(colour, canvas.dtype) - canvas) * alpha


# The functional environment.

def _clip_action(action, config):
  out = {}
  for name, is_location, high in paint_actions._bounds(config):  # pylint: disable=protected-access
    value = jnp.asarray(action[name]).astype(jnp.int32)
    out[name] = jnp.clip(value, 0, high)
  out["flag"] = jnp.minimum(jnp.abs(jnp.asarray(action["flag"]).astype(jnp.int32)), 1)
  return out


def _observation(state, config):
  mask_paint = {name: 1.0 for name in config.components}
  mask_move = {name: 1.0 if name in ("flag", "end") else 0.0 for name in config.components}
  mask = {name: jnp.where(state.last_flag < 0, 0.0,
                          jnp.where(state.last_flag == paint_actions.PAINT, mask_paint[name],
                                    mask_move[name])).astype(jnp.float32)
          for name in config.components}
  return {"canvas": state.canvas, "episode_step": state.episode_step,
          "brush_location": state.location, "action_mask": mask}


def _initial_state(config):
  w = config.canvas_size
  return EnvState(canvas=jnp.ones((w, w, config.channels), jnp.float32),
                  location=jnp.zeros((2,), jnp.int32),
                  previous_pressure=jnp.float32(-1.0),
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
  return location.astype(jnp.float32) * (config.canvas_size / config.grid_size)


def step(key, state, action, params):
  """Applies one action (clipped into range); a step after the last one starts a new episode."""
  config = params.config
  action = _clip_action(action, config)
  pressures, colours, sizes = _levels(config)
  paint = action["flag"] == paint_actions.PAINT
  pressure = pressures[action["pressure"]]
  start_pressure = jnp.where(state.previous_pressure < 0, pressure, state.previous_pressure)
  if config.grayscale:
    colour = jnp.zeros((1,), jnp.float32)
  else:
    colour = jnp.stack([colours[action[c]] for c in paint_actions.COLOUR_COMPONENTS])
  alpha = stroke_alpha(_pixel(state.location, config), _pixel(action["control"], config),
                       _pixel(action["end"], config), sizes[action["size"]], start_pressure,
                       pressure, params.brush, config.canvas_size, config.canvas_size,
                       params.num_dabs)
  alpha = jnp.where(paint, alpha, 0.0)[..., None]
  painted = EnvState(canvas=state.canvas + (colour - state.canvas) * alpha,
                     location=action["end"],
                     previous_pressure=jnp.where(paint, pressure, -1.0),
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

class JaxPaint(dm_env.Environment):
  """The JAX renderer as a `dm_env.Environment`: a drop-in for LibMyPaint (same arguments, specs,
  observations and ValueErrors for bad actions)."""

  def __init__(self, canvas_size=64, grid_size=32, grayscale=False,
               brush=paint_actions.DEFAULT_BRUSH, brush_sizes=paint_actions.DEFAULT_BRUSH_SIZES,
               pressure_levels=10, colour_bins=20, episode_length=20, brush_model=None):
    config = paint_actions.PaintConfig(
        canvas_size=canvas_size, grid_size=grid_size, grayscale=grayscale, brush=brush,
        brush_sizes=brush_sizes, pressure_levels=pressure_levels, colour_bins=colour_bins,
        episode_length=episode_length)
    self._params = default_params(config, brush_model)
    self._reset = jax.jit(reset)
    self._step = jax.jit(step)
    self._state = None
    self._actions = []
    self._key = jax.random.PRNGKey(0)

  @classmethod
  def from_config(cls, config, brush_model=None):
    return cls(brush_model=brush_model, **config.to_dict())

  @property
  def config(self):
    return self._params.config

  @property
  def params(self):
    return self._params

  @property
  def program(self):
    return programs.Program(self.config, list(self._actions))

  def action_spec(self):
    return paint_actions.action_spec(self.config)

  def observation_spec(self):
    return paint_actions.observation_spec(self.config)

  def reward_spec(self):
    return paint_actions.reward_spec()

  def discount_spec(self):
    return paint_actions.discount_spec()

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
