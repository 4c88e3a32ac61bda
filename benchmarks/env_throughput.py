"""Steps per second of the libmypaint environment on random valid actions (one CPU core).

For each configuration (64x64; pen and textured brush; colour and grey) it times whole episodes of
random actions, resets included, several times and reports the median. It also replays the same
strokes straight through the ctypes binding, with every stroke point computed beforehand: the
difference is the environment's own Python cost per step (validation, Bezier, observation).

  python benchmarks/env_throughput.py [--repeats 7] [--episodes 100]

The last line printed is one JSON object.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np

from environments import libmypaint
from environments import mypaint_binding
from environments import paint_actions

TEXTURED_BRUSH = "classic/dry_brush"
CONFIGS = {
    "pen_colour": dict(brush="classic/pen", grayscale=False),
    "pen_grey": dict(brush="classic/pen", grayscale=True),
    "textured_colour": dict(brush=TEXTURED_BRUSH, grayscale=False),
}


def random_episodes(env, num_episodes, seed):
  rng = np.random.default_rng(seed)
  return [[paint_actions.random_actions(env.action_spec(), rng)
           for _ in range(env.config.episode_length)] for _ in range(num_episodes)]


def time_env(env, episodes):
  start = time.perf_counter()
  for episode in episodes:
    env.reset()
    for action in episode:
      env.step(action)
  return time.perf_counter() - start


def precomputed_calls(env, episodes):
  """Each episode as the libmypaint calls the environment makes, with all arguments precomputed."""
  config = env.config
  out = []
  for episode in episodes:
    location, previous, calls = (0, 0), None, []
    for raw in episode:
      action = paint_actions.validate_action(raw, config)
      if action["flag"] == paint_actions.PAINT:
        events, previous = paint_actions.stroke_events(location, action, previous, config)
        calls.append(("paint", paint_actions.stroke_hsv(action, config),
                      float(np.log(config.brush_sizes[action["size"]])), events))
      else:
        calls.append(("move", paint_actions.grid_to_pixel(action["end"], config)))
        previous = None
      location = action["end"]
    out.append(calls)
  return out


def time_binding(config, episodes_calls):
  surface = mypaint_binding.Surface(config.canvas_size, config.canvas_size)
  dtime = paint_actions.stroke_dtime(config)
  start = time.perf_counter()
  for calls in episodes_calls:
    surface.clear()
    brush = mypaint_binding.Brush(config.brush)
    stroke = surface.stroke_function(brush)
    brush.reset()
    stroke(0.0, 0.0, 0.0, dtime)
    for call in calls:
      if call[0] == "paint":
        _, (h, s, v), log_radius, events = call
        brush.set_base_value("color_h", h)
        brush.set_base_value("color_s", s)
        brush.set_base_value("color_v", v)
        brush.set_base_value("radius_logarithmic", log_radius)
        surface.begin_atomic()
        for x, y, p in events:
          stroke(x, y, p, dtime)
        surface.end_atomic()
      else:
        brush.reset()
        surface.begin_atomic()
        stroke(call[1][0], call[1][1], 0.0, dtime)
        surface.end_atomic()
    surface.pixels(config.channels)
  return time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--repeats", type=int, default=7)
  parser.add_argument("--episodes", type=int, default=100, help="episodes of 20 steps per repeat")
  args = parser.parse_args()
  if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

  results = {}
  for name, kwargs in CONFIGS.items():
    env = libmypaint.LibMyPaint(**kwargs)
    steps = args.episodes * env.config.episode_length
    env_rates, binding_rates = [], []
    for repeat in range(args.repeats):
      episodes = random_episodes(env, args.episodes, seed=repeat)
      env_rates.append(steps / time_env(env, episodes))
      binding_rates.append(steps / time_binding(env.config, precomputed_calls(env, episodes)))
    env_rate, binding_rate = statistics.median(env_rates), statistics.median(binding_rates)
    overhead_us = 1e6 / env_rate - 1e6 / binding_rate
    print(f"{name:16s} env {env_rate:7.0f} steps/s   bare binding {binding_rate:7.0f} steps/s   "
          f"env Python cost {overhead_us:5.1f} us/step "
          f"({100 * overhead_us * env_rate / 1e6:.0f}% of a step)")
    results[f"steps_per_s_{name}"] = round(env_rate, 1)
    results[f"binding_steps_per_s_{name}"] = round(binding_rate, 1)
    results[f"env_overhead_us_per_step_{name}"] = round(overhead_us, 2)
  results.update(canvas_size=64, repeats=args.repeats, steps_per_repeat=steps, cores=1,
                 textured_brush=TEXTURED_BRUSH)
  print(json.dumps(results))


if __name__ == "__main__":
  main()
