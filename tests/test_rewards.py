"""Each reward on hand-made canvases."""

from absl.testing import absltest
import jax.numpy as jnp
import numpy as np

from spiral_jax import learner as learner_lib
from spiral_jax import rewards
from spiral_jax import trajectory as trajectory_lib


def canvas(value, size=8, channels=1):
  return jnp.full((size, size, channels), value, jnp.float32)


class RewardsTest(absltest.TestCase):

  def test_final_step(self):
    r = rewards.final_step(jnp.array([2.0, -1.0]), 3)
    np.testing.assert_array_equal(r, [[0, 0], [0, 0], [2, -1]])

  def test_l2_reward(self):
    target = canvas(1.0).at[:4].set(0.0)  # top half black
    np.testing.assert_allclose(rewards.l2_reward(canvas(1.0), target), -0.5)
    np.testing.assert_allclose(rewards.l2_reward(target, target), 0.0)
    grey = canvas(0.5)
    np.testing.assert_allclose(rewards.l2_reward(grey, target), -0.25)

  def test_pyramid_l2_reward_sees_near_misses(self):
    target = canvas(1.0, size=16).at[4:6, 4:6].set(0.0)
    near = canvas(1.0, size=16).at[6:8, 6:8].set(0.0)  # just beside the ink
    far = canvas(1.0, size=16).at[12:14, 12:14].set(0.0)
    np.testing.assert_allclose(rewards.pyramid_l2_reward(near, target, 1),
                               rewards.l2_reward(near, target))
    # Plain l2 cannot tell a near miss from a far one; coarser scales can.
    np.testing.assert_allclose(rewards.l2_reward(near, target), rewards.l2_reward(far, target))
    self.assertGreater(float(rewards.pyramid_l2_reward(near, target, 4)),
                       float(rewards.pyramid_l2_reward(far, target, 4)))
    self.assertEqual(float(rewards.pyramid_l2_reward(target, target, 4)), 0.0)
    # 15x15 has no coarser scale: the plain l2.
    odd = canvas(1.0, size=15)
    np.testing.assert_allclose(rewards.pyramid_l2_reward(odd, odd.at[0, 0].set(0.0), 3),
                               rewards.l2_reward(odd, odd.at[0, 0].set(0.0)))

  def test_temporal_credit(self):
    scores = jnp.array([[0.0, 1.0], [0.5, 1.0], [0.2, 3.0]])
    r = rewards.temporal_credit(scores)
    np.testing.assert_allclose(r, [[0.5, 0.0], [-0.3, 2.0]], atol=1e-6)
    np.testing.assert_allclose(r.sum(0), scores[-1] - scores[0], atol=1e-6)

  def test_new_stroke_penalty(self):
    flags = jnp.array([[1, 0], [1, 1], [0, 1], [1, 0]])  # (T=4, B=2)
    np.testing.assert_allclose(rewards.new_stroke_penalty(flags, cost=0.5),
                               [[-0.5, 0], [0, -0.5], [0, 0], [-0.5, 0]])

  def test_empty_canvas_penalty(self):
    inked = canvas(1.0).at[3, 3].set(0.2)
    batch = jnp.stack([canvas(1.0), inked, canvas(0.98)])
    np.testing.assert_array_equal(rewards.empty_canvas_penalty(batch, cost=2.0), [-2.0, 0.0, -2.0])
    # Against each episode's first canvas: a grey start left as it was is empty.
    grey = jnp.stack([canvas(0.5), canvas(0.5).at[1, 1].set(0.9), canvas(0.5)])
    np.testing.assert_array_equal(
        rewards.empty_canvas_penalty(grey, cost=1.0, blank=jnp.stack([canvas(0.5)] * 3)),
        [-1.0, 0.0, -1.0])

  def test_colour_histogram_emd(self):
    rng = np.random.default_rng(0)
    image = jnp.asarray(rng.uniform(0.1, 0.6, size=(16, 16, 3)), jnp.float32)
    self.assertEqual(float(rewards.colour_histogram_emd(image, image)), 0.0)
    # Shifting every pixel by 0.25 moves the histogram by a quarter of the range.
    np.testing.assert_allclose(rewards.colour_histogram_emd(image, image + 0.25), 0.25, atol=0.07)
    # The same pixels shuffled have the same histogram: EMD ignores where colours are.
    shuffled = jnp.asarray(rng.permutation(np.asarray(image).reshape(-1, 3)).reshape(16, 16, 3))
    self.assertEqual(float(rewards.colour_histogram_emd(image, shuffled)), 0.0)
    black, white = canvas(0.0, channels=3), canvas(1.0, channels=3)
    np.testing.assert_allclose(rewards.colour_histogram_emd(black, white), 15 / 16)
    self.assertLess(float(rewards.colour_histogram_penalty(black, white, weight=2.0)), -1.8)


def trajectory(canvases, final, target=None, flags=None):
  """A time-major trajectory batch of T canvases (T, B, ...) for the reward tests."""
  steps, batch = canvases.shape[:2]
  flags = np.ones((steps, batch), np.int32) if flags is None else flags
  return trajectory_lib.Trajectory(
      canvas=canvases, prev_action={}, action_mask={}, first=np.zeros((steps, batch), bool),
      action={"flag": flags}, behaviour_log_prob=np.zeros((steps, batch), np.float32),
      final_canvas=final, target=target)


class ComputeTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    target = canvas(1.0).at[:4].set(0.0)
    self.target = jnp.stack([target, target])
    blank, half = canvas(1.0), canvas(1.0).at[:2].set(0.0)
    self.canvases = jnp.stack([jnp.stack([blank, blank]), jnp.stack([half, blank])])  # T=2
    self.final = jnp.stack([target, half])

  def test_l2_reward_at_the_end_or_as_temporal_credit(self):
    traj = trajectory(self.canvases, self.final, self.target)
    config = learner_lib.LearnerConfig(reward="l2", discriminator="conditional")
    r, info = rewards.compute(config, traj)
    np.testing.assert_allclose(r[:-1], 0.0)
    np.testing.assert_allclose(r[-1], [0.0, -0.25])
    np.testing.assert_allclose(info["l2"], [0.0, 0.25])
    config = learner_lib.LearnerConfig(reward="l2", discriminator="conditional",
                                       temporal_credit=True, reward_scale=2.0)
    r, _ = rewards.compute(config, traj)
    # Each step is credited with its change of -l2; the sum is the whole episode's change.
    np.testing.assert_allclose(r, [[2 * 0.25, 0.0], [2 * 0.25, 2 * 0.25]], atol=1e-6)
    np.testing.assert_allclose(r.sum(0), 2 * (rewards.l2_reward(self.final, self.target)
                                              - rewards.l2_reward(self.canvases[0], self.target)),
                               atol=1e-6)

  def test_discriminator_reward_and_penalties(self):
    traj = trajectory(self.canvases, jnp.stack([canvas(1.0), self.final[1]]), self.target,
                      flags=np.array([[1, 0], [1, 1]]))
    config = learner_lib.LearnerConfig(discriminator="conditional", new_stroke_cost=0.1,
                                       empty_canvas_cost=1.0)
    r, info = rewards.compute(config, traj, d_score=lambda c: jnp.sum(c, axis=(1, 2, 3)))
    np.testing.assert_allclose(info["score"], [64.0, 48.0])
    np.testing.assert_allclose(r, [[-0.1, 0.0], [64.0 - 1.0, 48.0 - 0.1]])
    # The episode that began on a grey canvas and left it so is the empty one.
    grey = jnp.stack([canvas(0.5), canvas(0.5)])
    r, _ = rewards.compute(config, trajectory(jnp.stack([grey, grey]),
                                              jnp.stack([grey[0], grey[1].at[2, 2].set(0.0)]),
                                              self.target, flags=np.array([[0, 0], [0, 0]])),
                           d_score=lambda c: jnp.zeros(c.shape[0]))
    np.testing.assert_allclose(r[-1], [-1.0, 0.0])
    with self.assertRaisesRegex(ValueError, "needs D's score"):
      rewards.compute(config, traj)
    with self.assertRaisesRegex(ValueError, "needs targets"):
      rewards.compute(learner_lib.LearnerConfig(reward="l2"), traj._replace(target=None))


if __name__ == "__main__":
  absltest.main()
