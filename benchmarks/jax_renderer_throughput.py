"""Strokes per second of the JAX renderer against libmypaint, measured in the same run.

JAX: whole 20-stroke episodes of random paint actions (64x64 colour), a `lax.scan` of the
functional env's `step`, vmapped over a batch, jitted; timed for batch sizes 1 to 1024 on all of
this machine's CPU cores (or its accelerator). libmypaint: the same kind of episodes through the
LibMyPaint environment on one core. Every action paints (flag 1), so a step is a stroke.

  python benchmarks/jax_renderer_throughput.py [--batches 1,4,16,64,256,1024] [--repeats 5]

The last line printed is one JSON object.
"""

import argparse
import json
import os
import statistics
import time

import jax
import numpy as np

from environments import jax_paint
from environments import libmypaint
from environments import paint_actions


def random_paint_programs(config, num_programs, seed):
  actions = paint_actions.random_actions(paint_actions.action_spec(config),
                                         np.random.default_rng(seed),
                                         (num_programs, config.episode_length))
  actions["flag"][:] = paint_actions.PAINT
  return actions


def make_episode_fn(params):
  def episode(actions):
    state, _ = jax_paint.reset(None, params)

    def body(state, action):
      state, _ = jax_paint.step(None, state, action, params)
      return state, None

    state, _ = jax.lax.scan(body, state, actions)
    return state.canvas

  return jax.jit(jax.vmap(episode))


def time_jax(params, batch, repeats, seed):
  episode = make_episode_fn(params)
  actions = jax.device_put(random_paint_programs(params.config, batch, seed))
  jax.block_until_ready(episode(actions))  # compile
  rates = []
  for _ in range(repeats):
    calls = max(1, 2048 // batch)
    start = time.perf_counter()
    for _ in range(calls):
      out = episode(actions)
    jax.block_until_ready(out)
    rates.append(calls * batch * params.config.episode_length / (time.perf_counter() - start))
  return statistics.median(rates)


def time_libmypaint(config, repeats, seed, episodes=50):
  env = libmypaint.LibMyPaint.from_config(config)
  rates = []
  for r in range(repeats):
    actions = random_paint_programs(config, episodes, seed + r)
    steps = [[{k: v[i, t] for k, v in actions.items()} for t in range(config.episode_length)]
             for i in range(episodes)]
    start = time.perf_counter()
    for episode in steps:
      env.reset()
      for action in episode:
        env.step(action)
    rates.append(episodes * config.episode_length / (time.perf_counter() - start))
  return statistics.median(rates)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batches", default="1,4,16,64,256,1024")
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args()
  config = paint_actions.PaintConfig()
  params = jax_paint.default_params(config)

  # libmypaint first, pinned to one core, before XLA starts its threads.
  all_cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
  if all_cores:
    os.sched_setaffinity(0, {min(all_cores)})
  lmp_rate = time_libmypaint(config, args.repeats, seed=7)
  if all_cores:
    os.sched_setaffinity(0, all_cores)
  print(f"libmypaint environment, one core: {lmp_rate:9.0f} strokes/s")

  results = {}
  for batch in (int(b) for b in args.batches.split(",")):
    rate = time_jax(params, batch, args.repeats, seed=batch)
    results[f"strokes_per_s_batch{batch}"] = round(rate, 1)
    print(f"JAX renderer, batch {batch:5d}: {rate:9.0f} strokes/s")
  results["libmypaint_strokes_per_s"] = round(lmp_rate, 1)
  if "strokes_per_s_batch256" in results:
    results["speedup_batch256_vs_libmypaint"] = round(results["strokes_per_s_batch256"] / lmp_rate, 2)
  results.update(canvas_size=config.canvas_size, device=jax.devices()[0].device_kind,
                 num_devices=jax.device_count(), num_dabs=params.num_dabs)
  print(json.dumps(results))


if __name__ == "__main__":
  main()
