"""Each reward on hand-made canvases."""

from absl.testing import absltest
import jax.numpy as jnp
import numpy as np

from spiral_jax import rewards


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


if __name__ == "__main__":
  absltest.main()
