"""A pure-JAX painting renderer with libmypaint's action semantics: jit, vmap, grad, any device.

The same stroke programs as `environments.libmypaint` (see `environments.paint_actions`), rendered
inside jit so that environment steps can run batched on the accelerator next to the policy.

How a stroke is drawn (`stroke_dabs`, then `dabs_alpha`):

1. Dabs are placed as libmypaint places them. The stroke is the same 51-point Bezier path;
   one dab falls every R / 2.2 pixels travelled (R: the radius at that point, pressure ramping
   along the stroke), and the fraction left over carries into the next stroke (a move starts
   afresh). Dabs sit on a smoothed brush position that trails the path with a first-order lag,
   like libmypaint's slow_tracking_per_dab, so strokes end a little short of their end point and
   a short stroke with a big brush may get one dab, or none. At most `num_dabs` dabs are drawn;
   a stroke that would need more gets that many, spread evenly.
2. Each dab is a Gaussian of width min(R / kappa, sqrt(R * edge)) whose weight puts density 1 at
   distance R from its centre; dabs spread wider than libmypaint's are widened to their spacing
   and weighted as a tube, so that they blur into a line instead of showing as beads.
3. Gaussians are separable, so the stroke's density over the whole canvas is one small matrix
   product, rho = Gy^T Gx with Gx: (dabs, W) and Gy: (dabs, H). The opacity is
   alpha = rho^4 / (1 + rho^4) (see SHARPNESS_SQUARINGS): opaque inside the dabs, 1/2 at radius
   R, clear outside, with an edge about `edge` pixels wide. The stroke composites in one shot:
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
from environments import painting


@struct.dataclass
class BrushModel:
  """How a stroke becomes dabs and dabs become opacity (all differentiable).

  Radius (pixels): R = radius * radius_scale * exp(pressure_gain * pressure) + radius_offset.
  Dabs: one per R / dabs_per_radius pixels travelled, the fraction left over carried to the next
  stroke (a move starts afresh); dabs sit on a smoothed brush position that trails the stroke with
  a first-order lag of `lag` dab spacings, as libmypaint's slow_tracking_per_dab does.
  Each dab is a Gaussian of width min(R / kappa, sqrt(R * edge)) (at least the dab spacing) with
  density 1 at distance R from its centre, so the opacity edge is about `edge` pixels wide.
  """
  radius_scale: jnp.ndarray = 1.0
  radius_offset: jnp.ndarray = 0.0
  pressure_gain: jnp.ndarray = 0.5
  kappa: jnp.ndarray = 1.5
  edge: jnp.ndarray = 0.5
  dabs_per_radius: jnp.ndarray = 2.2
  lag: jnp.ndarray = 0.8


# Starting values from classic/pen's settings; fitted to libmypaint on random programs at 64x64
# by benchmarks/jax_paint_calibration.py --fit, which reports the fidelity reached.
PEN = BrushModel(radius_scale=1.0287, radius_offset=0.0883, pressure_gain=0.5350, kappa=1.1737,
                edge=0.7048)
CALIBRATED_BRUSHES = {paint_actions.DEFAULT_BRUSH: PEN}
NUM_DABS = 32
SHARPNESS_SQUARINGS = 2  # opacity = sigmoid(4 log density)
LAG_TAPS = 16  # decay^16 < 1e-5 for lag < 1.4 dab spacings


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


# Stroke rendering.

def _radius(radius, pressure, brush):
  return jnp.maximum(radius * brush.radius_scale * jnp.exp(brush.pressure_gain * pressure)
                     + brush.radius_offset, 0.05)


def stroke_dabs(actual, carry, start, control, end, radius, pressure_start, pressure_end, brush,
                num_dabs=NUM_DABS):
  """Where libmypaint would put the dabs of one stroke.

  Args:
    actual: (x, y) pixels: the smoothed brush position before the stroke.
    carry: the fraction of a dab spacing travelled since the last dab (0 after a move).
    start, control, end: the stroke's Bezier in pixels; radius: brush radius before pressure.
    pressure_start, pressure_end: pressure ramps linearly between these along the stroke.
    brush: a BrushModel; num_dabs: the most dabs a stroke gets (more are spread evenly).

  Returns:
    centres (D, 2), radii (D,), spacing (D,) (0 where dabs are libmypaint's own, else the
    distance between them), valid (D,) bool, new actual, new carry.
  """
  weights = jnp.asarray(paint_actions.STROKE_WEIGHTS, jnp.float32)
  # The stroke events, weighted elementwise (a matmul would sum in a different order under vmap).
  path = sum(weights[:, i:i + 1] * jnp.asarray(p, jnp.float32)
             for i, p in enumerate((start, control, end)))
  pressures = pressure_start + (pressure_end - pressure_start) * jnp.asarray(
      paint_actions.STROKE_RAMP, jnp.float32)
  lengths = jnp.sqrt(jnp.sum(jnp.square(jnp.diff(path, axis=0)), axis=-1) + 1e-12)
  event_radii = _radius(radius, pressures, brush)
  step = lengths * brush.dabs_per_radius / (0.5 * (event_radii[1:] + event_radii[:-1])) + 1e-6
  travelled = carry + jnp.concatenate([jnp.zeros((1,)), jnp.cumsum(step)])  # in dab spacings
  total = jnp.floor(jax.lax.stop_gradient(travelled[-1]))
  count = jnp.minimum(total, num_dabs)
  k = jnp.arange(1, num_dabs + 1, dtype=jnp.float32)
  per_dab = jnp.maximum(total / num_dabs, 1.0)  # > 1 when there are more dabs than num_dabs
  marks = k * per_dab
  valid = k <= count
  events = jnp.arange(paint_actions.STROKE_POINTS, dtype=jnp.float32)
  index = jnp.interp(jnp.minimum(marks, travelled[-1]), travelled, events)
  targets = jnp.stack([jnp.interp(index, events, path[:, 0]),
                       jnp.interp(index, events, path[:, 1])], axis=-1)  # (D, 2)
  # First-order lag of the brush position (time constant `lag` dab spacings), solved exactly for a
  # target moving linearly from one dab to the next.
  decay = jnp.exp(-per_dab / brush.lag)
  gain = 1.0 - decay
  previous = jnp.concatenate([jnp.asarray(actual, jnp.float32)[None], targets[:-1]], axis=0)
  slope = 1.0 - brush.lag / per_dab * gain
  drive = (gain - slope) * previous + slope * targets
  drive = drive.at[0].add(decay * jnp.asarray(actual, jnp.float32))
  # centres[k] = sum_m decay^m drive[k - m]; decay <= exp(-1 / lag), so LAG_TAPS terms suffice.
  padded = jnp.concatenate([jnp.zeros((LAG_TAPS - 1, 2), drive.dtype), drive], axis=0)
  taps = jnp.stack([padded[LAG_TAPS - 1 - m:LAG_TAPS - 1 - m + num_dabs] for m in range(LAG_TAPS)])
  centres = jnp.einsum("m,mdc->dc", decay ** jnp.arange(LAG_TAPS, dtype=jnp.float32), taps)
  last = jnp.maximum(count.astype(jnp.int32) - 1, 0)
  new_actual = jnp.where(count > 0, centres[last], jnp.asarray(actual, jnp.float32))
  radii = _radius(radius, jnp.interp(index, events, pressures), brush)
  # Our dabs stand for `per_dab` of libmypaint's; where that is more than one they are spread
  # wider than libmypaint's and must blur into a tube rather than show as beads.
  spacing = jnp.where(per_dab > 1.0, per_dab * radii / brush.dabs_per_radius, 0.0)
  return centres, radii, spacing, valid, new_actual, travelled[-1] - total


def dabs_alpha(centres, radii, spacing, valid, brush, height, width):
  """Opacity (height, width) of a set of dabs, as one (H, D) x (D, W) matrix product."""
  sigma = jnp.maximum(jnp.minimum(radii / brush.kappa, jnp.sqrt(radii * brush.edge)), spacing)
  # Density 1 at distance R from a lone dab; a dense run of dabs is normalised as a tube instead.
  log_weight = jnp.square(radii / sigma) + jnp.minimum(
      0.0, jnp.log(jnp.maximum(spacing, 1e-6) / (sigma * jnp.sqrt(jnp.pi))))
  log_weight = jnp.where(spacing > 0, log_weight, jnp.square(radii / sigma))
  log_weight = jnp.where(valid, log_weight, -jnp.inf)
  xs = jnp.arange(width, dtype=jnp.float32) + 0.5
  ys = jnp.arange(height, dtype=jnp.float32) + 0.5
  gx = jnp.exp(log_weight[:, None] - jnp.square((xs[None, :] - centres[:, :1]) / sigma[:, None]))
  gy = jnp.exp(-jnp.square((ys[None, :] - centres[:, 1:]) / sigma[:, None]))
  density = jnp.matmul(gy.T, gx, precision=jax.lax.Precision.HIGHEST)  # (H, W)
  # alpha = sigmoid(SHARPNESS * log(density)) = q / (1 + q) with q = density^SHARPNESS, computed
  # by squaring; the clip keeps q finite (alpha is 1 - 1e-32 there).
  q = jnp.minimum(density, 100.0)
  for _ in range(SHARPNESS_SQUARINGS):
    q = jnp.square(q)
  return q / (1.0 + q)


def render_stroke(canvas, start, control, end, radius, pressure_start, pressure_end, colour,
                  brush=PEN, num_dabs=NUM_DABS):
  """Paints one stroke (as after a move) onto a (H, W, C) canvas; differentiable in every float
  argument.

  Args:
    canvas: float (H, W, C) in [0, 1].
    start, control, end: (x, y) in pixels.
    radius: the brush radius in pixels (before pressure).
    pressure_start, pressure_end: pressure at the two ends, ramped linearly along the stroke.
    colour: (C,) ink colour.
    brush: a BrushModel.
    num_dabs: the most dabs a stroke gets.
  """
  centres, radii, spacing, valid, _, _ = stroke_dabs(
      start, 0.0, start, control, end, radius, pressure_start, pressure_end, brush, num_dabs)
  alpha = dabs_alpha(centres, radii, spacing, valid, brush, canvas.shape[0], canvas.shape[1])
  return canvas + (jnp.asarray(colour, canvas.dtype) - canvas) * alpha[..., None]


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
  end = _pixel(action["end"], config)
  centres, radii, spacing, valid, actual, carry = stroke_dabs(
      state.actual, state.carry, _pixel(state.location, config), _pixel(action["control"], config),
      end, sizes[action["size"]], start_pressure, pressure, params.brush, params.num_dabs)
  alpha = dabs_alpha(centres, radii, spacing, valid & paint, params.brush, config.canvas_size,
                     config.canvas_size)[..., None]
  painted = EnvState(canvas=state.canvas + (colour - state.canvas) * alpha,
                     location=action["end"],
                     previous_pressure=jnp.where(paint, pressure, -1.0),
                     actual=jnp.where(paint, actual, end),
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
