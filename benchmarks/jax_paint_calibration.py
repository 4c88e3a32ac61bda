"""Fidelity of the JAX renderer to libmypaint: the same random programs rendered by both.

Renders `--programs` random 20-action programs (64x64 colour, the paper's set-up, default brush)
with libmypaint and with the JAX renderer, and reports the per-pixel mean absolute difference over
the whole canvas and over the inked pixels (where either render differs from white paper).

  python benchmarks/jax_paint_calibration.py [--programs 1000]
  python benchmarks/jax_paint_calibration.py --fit     # refit the BrushModel constants

--fit runs Adam on the mean absolute difference over separate training programs and prints the
fitted BrushModel, to be copied into environments/jax_brush.py. The last line printed is JSON.
"""

import argparse
import dataclasses
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from environments import jax_paint
from environments import libmypaint
from environments import mypaint_binding
from environments import paint_actions

INK_THRESHOLD = 0.01


def random_programs(config, num_programs, seed):
  """Random valid actions, as a dict of (N, T, ...) int32 arrays."""
  return paint_actions.random_actions(paint_actions.action_spec(config),
                                      np.random.default_rng(seed),
                                      (num_programs, config.episode_length))


def libmypaint_renders(config, actions):
  env = libmypaint.LibMyPaint.from_config(config)
  n, steps = actions["flag"].shape
  out = np.empty((n, config.canvas_size, config.canvas_size, config.channels), np.float32)
  for i in range(n):
    env.reset()
    for t in range(steps):
      timestep = env.step({name: a[i, t] for name, a in actions.items()})
    out[i] = timestep.observation["canvas"]
  return out


def jax_renders(params, actions):
  return jax.vmap(jax_paint.render_actions, in_axes=(0, None))(actions, params)


def differences(reference, rendered):
  diff = np.abs(np.asarray(rendered) - reference)
  inked = ((1.0 - reference.min(-1)) > INK_THRESHOLD) | (
      (1.0 - np.asarray(rendered).min(-1)) > INK_THRESHOLD)
  return float(diff.mean()), float(diff.mean(-1)[inked].mean()), float(inked.mean())


_POSITIVE = ("radius_scale", "kappa", "edge")
# The dab count and lag stay at the brush file's values: the count is a step function of them, so
# gradients cannot fit them.
FITTED = ("radius_scale", "radius_offset", "pressure_gain", "kappa", "edge")


def initial_brush(brush):
  """A starting BrushModel for a libmypaint brush: the pen's fit, with the brush file's dab
  spacing and per-dab smoothing (neither is fitted)."""
  settings = json.loads(mypaint_binding.read_brush_file(brush))["settings"]
  value = lambda name: settings.get(name, {}).get("base_value", 0.0)
  return jax_paint.PEN.replace(dabs_per_radius=float(value("dabs_per_actual_radius")),
                               lag=max(float(value("slow_tracking_per_dab")), 1e-3))


def fit(config, steps, num_programs, seed):
  actions = random_programs(config, num_programs, seed)
  target = jnp.asarray(libmypaint_renders(config, actions))
  init = (jax_paint.CALIBRATED_BRUSHES[config.brush] if config.brush in
          jax_paint.CALIBRATED_BRUSHES else initial_brush(config.brush))
  raw = {name: (jnp.log(getattr(init, name)) if name in _POSITIVE else
                jnp.asarray(getattr(init, name), jnp.float32))
         for name in FITTED}

  def brush_of(raw):
    return init.replace(**{k: jnp.exp(v) if k in _POSITIVE else v for k, v in raw.items()})

  def loss_fn(raw):
    params = jax_paint.default_params(config, brush_of(raw))
    return jnp.mean(jnp.abs(jax_renders(params, actions) - target))

  optimiser = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.01))
  opt_state = optimiser.init(raw)

  @jax.jit
  def update(raw, opt_state):
    loss, grads = jax.value_and_grad(loss_fn)(raw)
    updates, opt_state = optimiser.update(grads, opt_state)
    return optax.apply_updates(raw, updates), opt_state, loss

  for i in range(steps):
    raw, opt_state, loss = update(raw, opt_state)
    if i % 25 == 0 or i == steps - 1:
      print(f"fit step {i:4d}  train mean abs diff {float(loss):.5f}")
  brush = brush_of(raw)
  print("fitted: BrushModel(" + ", ".join(
      f"{k}={float(getattr(brush, k)):.4f}" for k in dataclasses.asdict(brush)) + ")")
  return brush


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--programs", type=int, default=1000)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--fit", action="store_true")
  parser.add_argument("--fit_steps", type=int, default=300)
  parser.add_argument("--fit_programs", type=int, default=256)
  parser.add_argument("--brush", default=paint_actions.DEFAULT_BRUSH,
                      help="libmypaint brush to compare with (needs --fit if not calibrated)")
  args = parser.parse_args()
  config = paint_actions.PaintConfig(brush=args.brush)

  brush = None
  if args.fit:
    brush = fit(config, args.fit_steps, args.fit_programs, seed=args.seed + 1_000_003)
  params = jax_paint.default_params(config, brush)
  actions = random_programs(config, args.programs, args.seed)
  start = time.perf_counter()
  reference = libmypaint_renders(config, actions)
  libmypaint_s = time.perf_counter() - start
  rendered = jax.block_until_ready(jax_renders(params, actions))
  mad, mad_inked, inked_fraction = differences(reference, rendered)
  print(f"{args.programs} random programs of {config.episode_length} actions "
        f"(libmypaint took {libmypaint_s:.1f}s): mean abs diff {mad:.4f} over the canvas, "
        f"{mad_inked:.4f} over inked pixels ({100 * inked_fraction:.0f}% of pixels)")
  print(json.dumps({"mean_abs_diff": round(mad, 5), "mean_abs_diff_inked": round(mad_inked, 5),
                    "inked_fraction": round(inked_fraction, 4), "programs": args.programs,
                    "episode_length": config.episode_length, "brush": config.brush,
                    "canvas_size": config.canvas_size}))


if __name__ == "__main__":
  main()
