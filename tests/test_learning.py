"""The agent learns: with the l2 reward on a tiny canvas it learns to paint a fixed target stroke."""

import time

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np
import optax

from environments import jax_paint
from environments import paint_actions
from spiral_jax import learner as learner_lib
from spiral_jax import losses
from spiral_jax import rewards
from spiral_jax.networks import policy as policy_lib

CONFIG = paint_actions.PaintConfig(canvas_size=16, grid_size=4, grayscale=True,
                                   brush_sizes=(2.0,), pressure_levels=1, episode_length=1)
TARGET_ACTION = {"flag": 1, "end": (3, 3), "control": (3, 0), "size": 0, "pressure": 0}


class LearningTest(absltest.TestCase):

  def test_l2_reward_teaches_a_target_stroke(self):
    env_params = jax_paint.default_params(CONFIG)
    target = jax_paint.render_actions(jax_paint.stack_actions([TARGET_ACTION], CONFIG), env_params)
    policy = policy_lib.Policy(paint_actions.observation_spec(CONFIG),
                               paint_actions.action_spec(CONFIG))
    params = policy.init(jax.random.PRNGKey(0))
    optimiser = optax.adam(3e-3)
    opt_state = optimiser.init(params)
    batch = 64
    inputs = policy.inputs({"canvas": jnp.ones((batch,) + target.shape)},
                           policy.zero_action((batch,)), np.ones(batch, bool))
    render = jax.vmap(jax_paint.render_actions, in_axes=(0, None))

    @jax.jit
    def update(params, opt_state, key):
      state = policy.initial_state(batch)
      actions, _, _ = policy.step(params, key, inputs, state)
      canvases = render(jax.tree.map(lambda a: a[:, None], actions), env_params)
      l2 = -rewards.l2_reward(canvases, target[None])
      # As in the paper, l2 alone teaches the agent to paint nothing (a blank canvas is closer to
      # the target than a random stroke); the empty-canvas penalty rules that out.
      reward = -l2 + rewards.empty_canvas_penalty(canvases, cost=0.2)

      def loss_fn(params):
        output, _ = policy.unroll(params, jax.tree.map(lambda x: x[None], inputs),
                                  jax.tree.map(lambda a: a[None], actions), state)
        return losses.a2c_loss(output.log_prob, output.entropy, output.value, reward[None],
                               jnp.zeros((1, batch)), jnp.zeros((batch,)),
                               entropy_cost=0.03).loss

      grads = jax.grad(loss_fn)(params)
      updates, opt_state = optimiser.update(grads, opt_state)
      return optax.apply_updates(params, updates), opt_state, l2.mean()

    start = time.perf_counter()
    l2 = []
    key = jax.random.PRNGKey(1)
    for _ in range(400):
      key, sub = jax.random.split(key)
      params, opt_state, mean_l2 = update(params, opt_state, sub)
      l2.append(float(mean_l2))
    elapsed = time.perf_counter() - start
    first, last = np.mean(l2[:20]), np.mean(l2[-20:])
    print(f"l2 to target: {first:.4f} -> {last:.4f} in {elapsed:.1f}s")
    self.assertLess(last, 0.25 * first)
    # The policy's most likely stroke is now the target's.
    actions, _, _ = policy.step(params, jax.random.PRNGKey(7), inputs, policy.initial_state(batch))
    hits = np.mean([all(np.array_equal(np.asarray(actions[k][i]), np.asarray(v))
                        for k, v in TARGET_ACTION.items()) for i in range(batch)])
    self.assertGreater(hits, 0.5)


class PolicyOptimiserTest(absltest.TestCase):
  """The policy's learning rate: constant, or falling linearly to a floor."""

  def steps(self, config, n):
    optimiser = learner_lib.policy_optimiser(config)
    params = {"w": jnp.zeros(3)}
    state = optimiser.init(params)
    sizes = []
    for _ in range(n):  # a constant gradient: Adam's step is the learning rate itself
      updates, state = optimiser.update({"w": jnp.ones(3)}, state, params)
      params = optax.apply_updates(params, updates)
      sizes.append(float(-updates["w"][0]))
    return np.array(sizes)

  def test_constant_and_decayed_rates(self):
    constant = self.steps(learner_lib.LearnerConfig(policy_learning_rate=1e-3), 6)
    np.testing.assert_allclose(constant, 1e-3, rtol=1e-4)
    decayed = self.steps(learner_lib.LearnerConfig(policy_learning_rate=1e-3,
                                                   policy_learning_rate_decay_updates=4,
                                                   policy_learning_rate_final=0.2), 6)
    np.testing.assert_allclose(decayed, [1e-3, 0.8e-3, 0.6e-3, 0.4e-3, 0.2e-3, 0.2e-3],
                               rtol=1e-4)

  def test_bad_schedules_are_clear_errors(self):
    with self.assertRaisesRegex(ValueError, "policy_learning_rate_decay_updates must be 0"):
      learner_lib.LearnerConfig(policy_learning_rate_decay_updates=-1)
    with self.assertRaisesRegex(ValueError, "policy_learning_rate_final is a fraction"):
      learner_lib.LearnerConfig(policy_learning_rate_decay_updates=10,
                                policy_learning_rate_final=0.0)


if __name__ == "__main__":
  absltest.main()
