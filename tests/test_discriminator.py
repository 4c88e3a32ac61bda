"""The discriminator: variants, spectral normalisation, the complement mix."""

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from spiral_jax.networks import discriminator as disc_lib


class DiscriminatorTest(absltest.TestCase):

  def test_unconditional_and_conditional_scores(self):
    images = jax.random.uniform(jax.random.PRNGKey(0), (5, 64, 64, 3))
    for conditional in (False, True):
      d = disc_lib.Discriminator((64, 64, 3), disc_lib.PAPER, conditional=conditional)
      params, _ = d.init(jax.random.PRNGKey(1))
      scores = d.apply(params, images, images[::-1] if conditional else None)
      self.assertEqual(scores.shape, (5,))
      self.assertTrue(np.all(np.isfinite(scores)))
    with self.assertRaisesRegex(ValueError, "needs the target"):
      d.apply(params, images)
    changed = d.apply(params, images, images)
    self.assertFalse(np.allclose(changed, d.apply(params, images, images[::-1])))

  def test_spectral_norm_bounds_every_layer(self):
    config = disc_lib.DiscriminatorConfig(channels=(8, 16), spectral_norm=True)
    d = disc_lib.Discriminator((16, 16, 1), config)
    params, sn_state = d.init(jax.random.PRNGKey(0))
    params = jax.tree.map(lambda p: p * 10.0, params)  # far from normalised
    for _ in range(30):  # power iteration converges over calls
      normalised, sn_state = d.normalize(params, sn_state)
    for layer in ("conv_0", "conv_1", "score"):
      w = np.asarray(normalised[layer]["w"])
      sigma = np.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0]
      np.testing.assert_allclose(sigma, 1.0, rtol=0.05, err_msg=layer)
      raw = np.asarray(params[layer]["w"])
      self.assertGreater(np.linalg.svd(raw.reshape(-1, raw.shape[-1]), compute_uv=False)[0], 1.5)

  def test_complement_mix(self):
    canvas, target = jnp.zeros((8, 32, 32, 3)), jnp.ones((8, 32, 32, 3))
    mixed, mask = disc_lib.complement_mix(canvas, target, jax.random.PRNGKey(0))
    share = np.asarray(mask.mean(axis=(1, 2, 3)))
    self.assertTrue(np.all((share > 0.05) & (share < 0.95)), share)
    np.testing.assert_array_equal(mixed, np.broadcast_to(1.0 - mask, mixed.shape))  # canvas where
    # the mask is 1, target elsewhere
    self.assertGreater(len(np.unique(share)), 4)  # different cuts per example

  def test_kinds_say_what_d_sees_and_what_replay_keeps(self):
    rng = np.random.default_rng(0)
    canvas = rng.uniform(size=(4, 8, 8, 1)).astype(np.float32)
    target = rng.uniform(size=(4, 8, 8, 1)).astype(np.float32)
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    for name, channels in (("unconditional", 1), ("conditional", 2), ("complement", 1)):
      kind = disc_lib.kind(name)
      item = kind.replay_item(canvas, target)
      self.assertIsInstance(item, np.ndarray)  # the host replay stays numpy
      self.assertEqual(item.shape[1:], disc_lib.replay_item_shape(kind, (8, 8, 1)))
      fake = kind.fake(jnp.asarray(canvas), jnp.asarray(target), keys)
      np.testing.assert_allclose(kind.fake_from_items(jnp.asarray(item), keys), fake)
      self.assertEqual(fake.shape, (4, 8, 8, channels))
      self.assertEqual(kind.real(jnp.asarray(target)).shape, (4, 8, 8, channels))
      d = disc_lib.Discriminator((8, 8, 1), disc_lib.DiscriminatorConfig(channels=(4,)),
                                 conditional=kind.network_conditional)
      params, _ = d.init(jax.random.PRNGKey(1))
      self.assertEqual(kind.score(d, params, fake).shape, (4,))
    conditional = disc_lib.kind("conditional")
    real = conditional.real(jnp.asarray(target))
    np.testing.assert_array_equal(real[..., :1], real[..., 1:])  # a real pair is (x, x)
    # A complement mix of a canvas equal to its target is the target itself: it looks real.
    mixed = disc_lib.kind("complement").fake(jnp.asarray(target), jnp.asarray(target), keys)
    np.testing.assert_allclose(mixed, target)
    with self.assertRaisesRegex(ValueError, "discriminator must be one of"):
      disc_lib.kind("pairwise")


if __name__ == "__main__":
  absltest.main()
