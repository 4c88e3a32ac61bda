"""SPIRAL's losses (paper section 3.2): WGAN-GP for the discriminator, actor-critic for the policy.

All functions are pure and jittable. Time-major arrays: (T, B).
"""

from typing import Callable, NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp

ScoreFn = Callable[[chex.Array], chex.Array]  # images (B, ...) -> scores (B,)


# Discriminator.

def gradient_norms(score_fn: ScoreFn, images: chex.Array) -> chex.Array:
  """||d score_fn(x) / dx||_2 for each image of a batch; score_fn maps (B, ...) -> (B,)."""
  grads = jax.grad(lambda x: jnp.sum(score_fn(x)))(images)
  return jnp.sqrt(jnp.sum(jnp.square(grads.reshape(grads.shape[0], -1)), axis=-1) + 1e-12)


def gradient_penalty(score_fn: ScoreFn, real: chex.Array, fake: chex.Array,
                     key: Optional[chex.PRNGKey] = None,
                     eps: Optional[chex.Array] = None) -> chex.Array:
  """WGAN-GP: E[(||grad D(x_hat)|| - 1)^2], x_hat uniform on segments between real and fake.

  The interpolation weights are drawn from `key`, or given as `eps` (B,) (per-example draws make
  a data-parallel update independent of how the batch is split).
  """
  if eps is None:
    eps = jax.random.uniform(key, (real.shape[0],))
  eps = jnp.reshape(eps, (real.shape[0],) + (1,) * (real.ndim - 1))
  interpolates = eps * real + (1.0 - eps) * fake
  return jnp.mean(jnp.square(gradient_norms(score_fn, interpolates) - 1.0))


class DiscriminatorLoss(NamedTuple):
  loss: jnp.ndarray
  wasserstein: jnp.ndarray  # E[D(real)] - E[D(fake)]
  penalty: jnp.ndarray
  mean_score: jnp.ndarray  # mean of D over half real, half fake


def wgan_gp_loss(score_fn: ScoreFn, real: chex.Array, fake: chex.Array,
                 key: Optional[chex.PRNGKey] = None, penalty_weight: float = 10.0,
                 centring_weight: float = 1.0, eps: Optional[chex.Array] = None,
                 axis_name: Optional[str] = None) -> DiscriminatorLoss:
  """L_D = E[D(fake)] - E[D(real)] + penalty_weight * GP + centring_weight * m^2.

  m is the mean of D over real and fake images alike: L_D is unchanged by adding a constant to D,
  and D's output is the agent's reward, so the paper adds a term that keeps it centred on 0.

  Data-parallel (inside shard_map over `axis_name`, each device holding part of the batch): m is
  the mean over the whole batch, and the local loss's gradient, averaged over devices, is that of
  the whole batch's loss (m^2 is not linear in the batch, so it is linearised around the global m).
  """
  chex.assert_equal_shape([real, fake])
  d_real, d_fake = score_fn(real), score_fn(fake)
  penalty = gradient_penalty(score_fn, real, fake, key, eps)
  mean_score = 0.5 * (jnp.mean(d_real) + jnp.mean(d_fake))
  wasserstein = jnp.mean(d_real) - jnp.mean(d_fake)
  centring = jnp.square(mean_score)
  if axis_name is not None:
    global_mean = jax.lax.pmean(jax.lax.stop_gradient(mean_score), axis_name)
    centring = 2.0 * global_mean * mean_score - jnp.square(global_mean)
    mean_score = global_mean + (mean_score - jax.lax.stop_gradient(mean_score))
  loss = -wasserstein + penalty_weight * penalty + centring_weight * centring
  return DiscriminatorLoss(loss, wasserstein, penalty, mean_score)


# Policy.

def discounted_returns(rewards: chex.Array, discounts: chex.Array,
                       bootstrap: chex.Array) -> chex.Array:
  """R_t = r_t + discount_t * R_{t+1}, R_T = bootstrap; (T, B) -> (T, B)."""
  chex.assert_rank([rewards, discounts, bootstrap], [2, 2, 1])
  chex.assert_equal_shape([rewards, discounts])
  def body(acc, x):
    reward, discount = x
    acc = reward + discount * acc
    return acc, acc
  _, returns = jax.lax.scan(body, bootstrap, (rewards, discounts), reverse=True)
  return returns


class VTraceOutput(NamedTuple):
  vs: jnp.ndarray  # value targets (T, B)
  pg_advantages: jnp.ndarray  # (T, B)


def vtrace(values: chex.Array, bootstrap_value: chex.Array, rewards: chex.Array,
           discounts: chex.Array, log_rhos: chex.Array, lambda_: float = 1.0,
           clip_rho_threshold: float = 1.0, clip_pg_rho_threshold: float = 1.0) -> VTraceOutput:
  """V-trace targets and policy-gradient advantages (Espeholt et al., 2018).

  Args:
    values: V(x_t) (T, B). bootstrap_value: V(x_T) (B,).
    rewards, discounts: r_t and gamma_t (T, B) (discount 0 at episode ends).
    log_rhos: log pi(a_t|x_t) - log mu(a_t|x_t) (T, B), target over behaviour policy.
  """
  chex.assert_rank([values, bootstrap_value, rewards, discounts, log_rhos], [2, 1, 2, 2, 2])
  chex.assert_equal_shape([values, rewards, discounts, log_rhos])
  chex.assert_type([values, rewards, log_rhos], float)
  rhos = jnp.exp(log_rhos)
  clipped_rhos = jnp.minimum(clip_rho_threshold, rhos)
  cs = lambda_ * jnp.minimum(1.0, rhos)
  next_values = jnp.concatenate([values[1:], bootstrap_value[None]], axis=0)
  deltas = clipped_rhos * (rewards + discounts * next_values - values)

  def body(acc, x):
    delta, discount, c = x
    acc = delta + discount * c * acc
    return acc, acc

  _, corrections = jax.lax.scan(body, jnp.zeros_like(bootstrap_value), (deltas, discounts, cs),
                                reverse=True)
  vs = jax.lax.stop_gradient(values + corrections)
  # The policy gradient bootstraps from lambda * vs_{t+1} + (1 - lambda) * V(x_{t+1}), as rlax does.
  next_vs = jnp.concatenate([lambda_ * vs[1:] + (1.0 - lambda_) * values[1:],
                             bootstrap_value[None]], axis=0)
  pg_rhos = jnp.minimum(clip_pg_rho_threshold, rhos)
  pg_advantages = jax.lax.stop_gradient(pg_rhos * (rewards + discounts * next_vs - values))
  return VTraceOutput(vs, pg_advantages)


class PolicyLoss(NamedTuple):
  loss: jnp.ndarray
  policy_gradient: jnp.ndarray
  baseline: jnp.ndarray
  entropy: jnp.ndarray


def actor_critic_loss(log_probs: chex.Array, entropies: chex.Array, values: chex.Array,
                      targets: chex.Array, advantages: chex.Array, baseline_cost: float = 0.5,
                      entropy_cost: float = 0.01,
                      policy_gradient_cost: float = 1.0) -> PolicyLoss:
  """-policy_gradient_cost * E[log pi * A] + baseline_cost * E[(target - V)^2]
  - entropy_cost * E[H]; all (T, B)."""
  chex.assert_equal_shape([log_probs, entropies, values, targets, advantages])
  pg = -jnp.mean(log_probs * jax.lax.stop_gradient(advantages))
  baseline = 0.5 * jnp.mean(jnp.square(jax.lax.stop_gradient(targets) - values))
  entropy = jnp.mean(entropies)
  return PolicyLoss(policy_gradient_cost * pg + baseline_cost * baseline - entropy_cost * entropy,
                    pg, baseline, entropy)


def a2c_loss(log_probs: chex.Array, entropies: chex.Array, values: chex.Array,
             rewards: chex.Array, discounts: chex.Array, bootstrap_value: chex.Array,
             baseline_cost: float = 0.5, entropy_cost: float = 0.01,
             policy_gradient_cost: float = 1.0) -> PolicyLoss:
  """Advantage actor-critic with Monte-Carlo returns (the paper's L_G plus entropy bonus)."""
  returns = discounted_returns(rewards, discounts, bootstrap_value)
  return actor_critic_loss(log_probs, entropies, values, returns, returns - values,
                           baseline_cost, entropy_cost, policy_gradient_cost)


def vtrace_loss(log_probs: chex.Array, behaviour_log_probs: chex.Array, entropies: chex.Array,
                values: chex.Array, rewards: chex.Array, discounts: chex.Array,
                bootstrap_value: chex.Array, baseline_cost: float = 0.5,
                entropy_cost: float = 0.01, lambda_: float = 1.0,
                policy_gradient_cost: float = 1.0) -> PolicyLoss:
  """Actor-critic with V-trace off-policy corrections (IMPALA)."""
  targets = vtrace(jax.lax.stop_gradient(values), bootstrap_value, rewards, discounts,
                   jax.lax.stop_gradient(log_probs - behaviour_log_probs), lambda_)
  return actor_critic_loss(log_probs, entropies, values, targets.vs, targets.pg_advantages,
                           baseline_cost, entropy_cost, policy_gradient_cost)
