"""Data parallelism: two devices give the same update as one on the same global batch.

The check runs in a subprocess with XLA_FLAGS=--xla_force_host_platform_device_count=2 (the flag
must be set before JAX starts), comparing a Learner on devices[:1] with one on devices[:2], and an
Anakin iteration's policy update likewise.
"""

import os
import subprocess
import sys

from absl.testing import absltest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r"""
import jax, numpy as np
from spiral_jax import actor as actor_lib, learner as learner_lib
from tests import test_training as tt

assert jax.device_count() == 2, jax.devices()
for reward, kind in (("l2", "conditional"), ("discriminator", "complement")):
  config = tt.small_config(**{"learner.reward": reward, "learner.discriminator": kind})
  setup = tt.paint_setup(functional=False)
  policy, disc, lc = __import__("spiral_jax.training", fromlist=["x"]).build_agent(config, setup)
  state = learner_lib.init(policy, disc, lc, jax.random.PRNGKey(0))
  envs = [setup.env_factory() for _ in range(8)]
  targets = np.repeat(setup.images, 8, axis=0)
  batch = actor_lib.run_episodes(envs, policy, jax.jit(policy.step), state.policy_params,
                                 jax.random.PRNGKey(1), targets)
  real = np.random.default_rng(0).uniform(size=(8,) + setup.images.shape[1:]).astype(np.float32)
  fake = lc.kind.replay_item(batch.final_canvas, batch.target)
  results = []
  for devices in (jax.devices()[:1], jax.devices()[:2]):
    learner = learner_lib.Learner(policy, disc, lc, state, devices)
    m1 = learner.update_policy(batch, jax.random.PRNGKey(2))
    m2 = learner.update_discriminator(real, fake, jax.random.PRNGKey(3))
    results.append((learner.host_state(), jax.device_get(m1), jax.device_get(m2)))
  (a, ma, da), (b, mb, db) = results
  # Adam's first step is about lr * sign(gradient) per parameter, so a gradient that is ~0 may
  # flip sign with the summation order; parameters must agree to a small share of one step.
  tolerance = 0.05 * lc.policy_learning_rate
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(x, y, rtol=0, atol=tolerance)
  for name in ma:
    np.testing.assert_allclose(ma[name], mb[name], rtol=1e-5, atol=1e-6, err_msg=name)
  for name in da:
    np.testing.assert_allclose(da[name], db[name], rtol=1e-5, atol=1e-6, err_msg=name)
  moved = max(float(np.max(np.abs(x - y))) for x, y in zip(
      jax.tree.leaves(a.policy_params), jax.tree.leaves(state.policy_params)))
  assert moved > 10 * tolerance, "the update did not change the parameters"
print("EQUAL")
"""


class MultiDeviceTest(absltest.TestCase):

  def test_two_devices_give_the_same_update_as_one(self):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    self.assertEqual(result.returncode, 0, result.stderr[-4000:])
    self.assertIn("EQUAL", result.stdout)


if __name__ == "__main__":
  absltest.main()
