"""The JAX renderer's brush: libmypaint's pen as a differentiable stroke primitive.

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
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from environments import paint_actions


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


def stroke_radius(radius, pressure, brush_name):
  """The radius in pixels that a brush paints with at this size and pressure (plain numbers, for
  exports such as SVG): the calibrated model's where the brush has one, else its starting values."""
  brush = CALIBRATED_BRUSHES.get(brush_name, BrushModel())
  return max(float(radius) * float(brush.radius_scale)
             * float(np.exp(float(brush.pressure_gain) * float(pressure)))
             + float(brush.radius_offset), 0.05)


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
