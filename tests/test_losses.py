"""Losses: the gradient penalty against finite differences, V-trace against rlax."""

import warnings

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from spiral_jax import losses
from spiral_jax.networks import discriminator as disc_lib

with warnings.catch_warnings():
  warnings.simplefilter("ignore")
  import rlax  # pylint: disable=g-import-not-at-top


class GradientPenaltyTest(absltest.TestCase):

  def test_gradient_norms_match_finite_differences(self):
    d = disc_lib.Discriminator((8, 8, 1), disc_lib.DiscriminatorConfig(channels=(4, 8)))
    params, _ = d.init(jax.random.PRNGKey(0))
    score = lambda x: d.apply(params, x)
    images = jax.random.uniform(jax.random.PRNGKey(1), (2, 8, 8, 1))
    norms = np.asarray(losses.gradient_norms(score, images))
    eps = 1e-3
    for b in range(2):
      grad = np.zeros(64)
      for i in range(64):
        delta = np.zeros(64, np.float32)
        delta[i] = eps
        delta = delta.reshape(1, 8, 8, 1)
        up = float(score(images[b:b + 1] + delta)[0])
        down = float(score(images[b:b + 1] - delta)[0])
        grad[i] = (up - down) / (2 * eps)
      np.testing.assert_allclose(norms[b], np.linalg.norm(grad), rtol=2e-2)

  def test_penalty_of_a_linear_critic(self):
    w = jnp.arange(12.0).reshape(3, 4) / 20.0
    score = lambda x: jnp.sum(x * w, axis=(1, 2))
    real, fake = jnp.ones((5, 3, 4)), jnp.zeros((5, 3, 4))
    penalty = losses.gradient_penalty(score, real, fake, jax.random.PRNGKey(0))
    np.testing.assert_allclose(penalty, (np.linalg.norm(w) - 1.0) ** 2, rtol=1e-5)

  def test_wgan_loss_terms(self):
    score = lambda x: jnp.mean(x, axis=(1, 2, 3)) * 4.0 + 3.0
    real, fake = jnp.ones((4, 2, 2, 1)), jnp.zeros((4, 2, 2, 1))
    out = losses.wgan_gp_loss(score, real, fake, jax.random.PRNGKey(0), penalty_weight=0.0,
                              centring_weight=2.0)
    np.testing.assert_allclose(out.wasserstein, 4.0)
    np.testing.assert_allclose(out.mean_score, 5.0)
    np.testing.assert_allclose(out.loss, -4.0 + 2.0 * 25.0)


class ActorCriticTest(absltest.TestCase):

  def _random_inputs(self, seed, t=7, b=5):
    rng = np.random.default_rng(seed)
    return dict(values=rng.normal(size=(t, b)).astype(np.float32),
                bootstrap=rng.normal(size=(b,)).astype(np.float32),
                rewards=rng.normal(size=(t, b)).astype(np.float32),
                discounts=(0.9 * (rng.uniform(size=(t, b)) > 0.2)).astype(np.float32),
                log_rhos=rng.normal(scale=0.7, size=(t, b)).astype(np.float32))

  def test_vtrace_matches_rlax(self):
    for seed in range(3):
      x = self._random_inputs(seed)
      for lambda_ in (1.0, 0.9):
        ours = losses.vtrace(x["values"], x["bootstrap"], x["rewards"], x["discounts"],
                             x["log_rhos"], lambda_=lambda_)
        v_t = np.concatenate([x["values"][1:], x["bootstrap"][None]], axis=0)
        theirs = jax.vmap(rlax.vtrace_td_error_and_advantage, in_axes=(1, 1, 1, 1, 1, None),
                          out_axes=1)(x["values"], v_t, x["rewards"], x["discounts"],
                                      np.exp(x["log_rhos"]), lambda_)
        np.testing.assert_allclose(ours.vs, theirs.errors + x["values"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ours.pg_advantages, theirs.pg_advantage, rtol=1e-5, atol=1e-5)

  def test_on_policy_vtrace_is_the_monte_carlo_return(self):
    x = self._random_inputs(4)
    ours = losses.vtrace(x["values"], x["bootstrap"], x["rewards"], x["discounts"],
                         np.zeros_like(x["log_rhos"]))
    returns = losses.discounted_returns(x["rewards"], x["discounts"], x["bootstrap"])
    np.testing.assert_allclose(ours.vs, returns, rtol=1e-5, atol=1e-5)
    expected = np.zeros_like(x["rewards"])
    acc = x["bootstrap"]
    for t in reversed(range(7)):
      acc = x["rewards"][t] + x["discounts"][t] * acc
      expected[t] = acc
    np.testing.assert_allclose(returns, expected, rtol=1e-5)

  def test_a2c_gradient_favours_advantageous_actions(self):
    logits = jnp.zeros((3,))
    rewards = jnp.array([[1.0], [0.0]])  # T=2, B=1: action 0 then action 2

    def loss(logits):
      log_p = jax.nn.log_softmax(logits)
      log_probs = jnp.stack([log_p[0], log_p[2]])[:, None]
      return losses.a2c_loss(log_probs, jnp.zeros((2, 1)), jnp.zeros((2, 1)), rewards,
                             jnp.array([[0.0], [0.0]]), jnp.zeros((1,)), entropy_cost=0.0).loss

    step = -jax.grad(loss)(logits)
    self.assertGreater(float(step[0]), 0.0)
    self.assertLess(float(step[1]), 0.0)


if __name__ == "__main__":
  absltest.main()
