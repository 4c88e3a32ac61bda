"""Frames per second of the jitted learner updates, and how much of the machine they use.

Policy update: V-trace actor-critic loss on a (T=20, B=64) trajectory of the paper's conditional
64x64 colour painting set-up (scored by `Policy.unroll`), gradient, Adam step, all in one jit.
Discriminator update: WGAN-GP on 64 real and 64 generated 64x64 pairs (conditional), gradient,
Adam step. For each: frames per second (median of repeats), XLA's FLOP count per frame, and the
achieved FLOP/s as a fraction of a dense float32 matmul's FLOP/s measured in the same run.

The FLOPs are the model's: XLA's count for the same update with XLA's own convolutions
(`conv.xla_convolutions`), the network layer by layer (as "model FLOPs utilisation" counts). The
update that is timed uses `spiral_jax.networks.conv`, which does different arithmetic for the same
results: a little more in places (padded borders, the second-order terms of the gradient penalty),
and in the policy far less for its first two convs, which it runs as one composed conv
(`conv.conv2d_pair`). XLA's count of the update as timed is printed too ("executed").

The script re-runs itself with glibc's huge-page tunable (`spiral_jax.host_memory`);
SPIRAL_JAX_HUGEPAGES=0 measures without it.

  python benchmarks/learner_step.py [--repeats 5] [--configs paper,small]

The last line printed is one JSON object.
"""

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from environments import paint_actions
from spiral_jax import host_memory
from spiral_jax import losses
from spiral_jax.networks import conv
from spiral_jax.networks import discriminator as disc_lib
from spiral_jax.networks import policy as policy_lib

T, B = 20, 64


def xla_flops(compiled):
  """XLA's FLOP count of a compiled function."""
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0]
  return float(analysis.get("flops", float("nan")))


def flops_of(fn, *args):
  """XLA's FLOP count of fn(*args), traced with XLA's convolutions (the model's arithmetic)."""
  with conv.xla_convolutions():  # a fresh function: jit's trace cache must not hold this trace
    return xla_flops(jax.jit(lambda *a: fn(*a)).lower(*args).compile())


def time_calls(fn, args, repeats, calls):
  """Median seconds per call of an update fn(params, opt_state, ...) -> (params, opt_state)."""
  out = fn(*args)
  jax.block_until_ready(out)
  args = (out[0], out[1]) + tuple(args[2:])
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(calls):
      out = fn(*args)
      args = (out[0], out[1]) + tuple(args[2:])
    jax.block_until_ready(out)
    times.append((time.perf_counter() - start) / calls)
  return statistics.median(times)


def matmul_gflops(repeats, n=2048):
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
  mm = jax.jit(lambda a: a @ a)
  jax.block_until_ready(mm(a))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(5):
      out = mm(a)
    jax.block_until_ready(out)
    times.append((time.perf_counter() - start) / 5)
  return 2 * n ** 3 / statistics.median(times) / 1e9


def random_trajectory(policy, config, key):
  keys = jax.random.split(key, 4)
  canvas = jax.random.uniform(keys[0], (T, B) + policy.canvas_shape)
  target = jax.random.uniform(keys[1], (T, B) + policy.canvas_shape)
  actions = jax.tree.map(jnp.asarray, paint_actions.random_actions(
      paint_actions.action_spec(config), np.random.default_rng(0), (T, B)))
  prev = jax.tree.map(lambda a: jnp.concatenate([jnp.zeros_like(a[:1]), a[:-1]]), actions)
  first = jnp.zeros((T, B), bool).at[0].set(True)
  inputs = policy_lib.StepInputs(canvas=canvas, prev_action=prev,
                                 action_mask=policy.full_mask((T, B)), first=first, target=target)
  behaviour = -27.0 + jax.random.normal(keys[2], (T, B))
  rewards = jnp.zeros((T, B)).at[-1].set(jax.random.normal(keys[3], (B,)))
  return inputs, actions, behaviour, rewards


def policy_benchmark(config_name, repeats):
  env_config = paint_actions.PaintConfig()
  policy = policy_lib.Policy(paint_actions.observation_spec(env_config),
                             paint_actions.action_spec(env_config),
                             {"paper": policy_lib.PAPER, "small": policy_lib.SMALL}[config_name],
                             conditional=True)
  params = policy.init(jax.random.PRNGKey(0))
  optimiser = optax.adam(4e-4)
  opt_state = optimiser.init(params)
  inputs, actions, behaviour, rewards = random_trajectory(policy, env_config,
                                                          jax.random.PRNGKey(1))
  discounts = jnp.ones((T, B)).at[-1].set(0.0)

  def update(params, opt_state, inputs, actions, behaviour, rewards):
    def loss_fn(params):
      output, _ = policy.unroll(params, inputs, actions, policy.initial_state(B))
      return losses.vtrace_loss(output.log_prob, behaviour, output.entropy, output.value,
                                rewards, discounts, jnp.zeros((B,))).loss
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = optimiser.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  args = (params, opt_state, inputs, actions, behaviour, rewards)
  flops = flops_of(update, *args)
  # Compiled once: XLA's count of the update as timed ("executed"), and the update timed.
  compiled = jax.jit(update, donate_argnums=(0, 1)).lower(*args).compile()
  executed = xla_flops(compiled)
  seconds = time_calls(compiled, args, repeats, calls=3 if config_name == "paper" else 10)
  return (T * B / seconds, flops / (T * B), flops / seconds / 1e9, executed / (T * B),
          policy_lib.num_parameters(params))


def discriminator_benchmark(config_name, repeats):
  config = {"paper": disc_lib.PAPER, "small": disc_lib.SMALL}[config_name]
  d = disc_lib.Discriminator((64, 64, 3), config, conditional=True)
  params, _ = d.init(jax.random.PRNGKey(0))
  optimiser = optax.adam(1e-4, b1=0.5)
  opt_state = optimiser.init(params)
  keys = jax.random.split(jax.random.PRNGKey(1), 3)
  real, fake, target = (jax.random.uniform(k, (B, 64, 64, 3)) for k in keys)

  def update(params, opt_state, real, fake, target, key):
    def loss_fn(params):
      return losses.wgan_gp_loss(lambda x: d.apply(params, x, target), real, fake, key).loss
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = optimiser.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  args = (params, opt_state, real, fake, target, jax.random.PRNGKey(2))
  flops = flops_of(update, *args)
  seconds = time_calls(jax.jit(update, donate_argnums=(0, 1)), args, repeats, calls=10)
  return B / seconds, flops / B, flops / seconds / 1e9


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--configs", default="paper,small")
  args = parser.parse_args()
  matmul = matmul_gflops(args.repeats)
  print(f"dense float32 matmul (2048^2): {matmul:.1f} GFLOP/s; glibc huge pages "
        f"{'on' if host_memory.enabled() else 'off'}")
  results = {"matmul_gflops": round(matmul, 2)}
  for name in args.configs.split(","):
    fps, flops_per_frame, gflops, executed, num_params = policy_benchmark(name, args.repeats)
    print(f"policy update, {name:5s} ({num_params / 1e6:.2f}M params): {fps:8.0f} frames/s, "
          f"{flops_per_frame / 1e6:7.1f} MFLOP/frame, {gflops:6.1f} GFLOP/s "
          f"({100 * gflops / matmul:.0f}% of matmul); executed {executed / 1e6:.1f} MFLOP/frame, "
          f"{executed * fps / 1e9:.1f} GFLOP/s ({100 * executed * fps / 1e9 / matmul:.0f}%)")
    results.update({f"policy_frames_per_s_{name}": round(fps, 1),
                    f"policy_mflop_per_frame_{name}": round(flops_per_frame / 1e6, 2),
                    f"policy_executed_mflop_per_frame_{name}": round(executed / 1e6, 2),
                    f"policy_executed_flops_fraction_{name}": round(executed * fps / 1e9 / matmul,
                                                                    4),
                    f"policy_gflops_{name}": round(gflops, 2),
                    f"policy_flops_fraction_{name}": round(gflops / matmul, 4)})
    fps, flops_per_frame, gflops = discriminator_benchmark(name, args.repeats)
    print(f"discriminator update, {name:5s}: {fps:8.0f} frames/s, "
          f"{flops_per_frame / 1e6:7.1f} MFLOP/frame, {gflops:6.1f} GFLOP/s "
          f"({100 * gflops / matmul:.0f}% of matmul)")
    results.update({f"discriminator_frames_per_s_{name}": round(fps, 1),
                    f"discriminator_flops_fraction_{name}": round(gflops / matmul, 4)})
  results.update(batch=B, unroll=T, device=jax.devices()[0].device_kind,
                 hugepages=host_memory.enabled())
  print(json.dumps(results))


if __name__ == "__main__":
  host_memory.reexec_with_hugepages()
  main()
