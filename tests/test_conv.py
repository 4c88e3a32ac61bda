"""Convolutions as matrix products: equal to XLA's convolution, with gradients of any order."""

from absl.testing import absltest
from absl.testing import parameterized
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from unittest import mock

from spiral_jax.networks import conv

# (size, kernel, stride, in channels, out channels, padding): the policy's and discriminator's
# shapes in miniature, both routes (C <= O and C > O), odd sizes and a fallback (3 % 2 != 0).
CASES = [(16, 5, 1, 6, 8, "SAME"), (16, 4, 2, 8, 8, "SAME"), (16, 4, 2, 24, 4, "SAME"),
         (8, 3, 1, 8, 8, "SAME"), (15, 4, 2, 3, 5, "SAME"), (9, 3, 1, 12, 4, "VALID"),
         (8, 4, 2, 4, 6, "VALID"), (4, 3, 1, 4, 16, "SAME"), (10, 3, 2, 4, 4, "SAME")]


def xla_conv(x, w, stride, padding):
  with conv.xla_convolutions():
    return conv.conv2d(x, w, stride, padding)


def random_case(size, kernel, channels_in, channels_out):
  kx, kw = jax.random.split(jax.random.PRNGKey(size * kernel + channels_in))
  return (jax.random.normal(kx, (2, size, size, channels_in)),
          jax.random.normal(kw, (kernel, kernel, channels_in, channels_out)))


def assert_close(actual, expected, tolerance=1e-5):
  scale = float(jnp.max(jnp.abs(expected)))
  np.testing.assert_allclose(actual, expected, atol=tolerance * scale, rtol=0)


# Second derivatives sum many more float32 products than values do, in another order on each
# side; on some CPUs (seen on AMD EPYC) the two differ by up to 2e-5 of their largest value.
SECOND_ORDER = 1e-4


class ConvTest(parameterized.TestCase):

  @parameterized.parameters(*[case + (xla_forward,) for case in CASES
                               for xla_forward in (False, True)])
  def test_matches_xla_values_and_gradients(self, size, kernel, stride, c, o, padding,
                                            xla_forward):
    # Every case runs both with the patch route everywhere and with XLA's forward pass on
    # small images (the default), which these all are.
    self.enter_context(mock.patch.object(conv, "_XLA_FORWARD_MAX_SIZE", 16 if xla_forward else 0))
    x, w = random_case(size, kernel, c, o)
    with jax.default_matmul_precision("highest"):
      y = conv.conv2d(x, w, stride, padding)
      expected = xla_conv(x, w, stride, padding)
      self.assertEqual(y.shape, expected.shape)
      assert_close(y, expected)
      loss = lambda fn: lambda x, w: jnp.sum(jnp.sin(fn(x, w, stride, padding)))
      grads = jax.grad(loss(conv.conv2d), (0, 1))(x, w)
      expected_grads = jax.grad(loss(xla_conv), (0, 1))(x, w)
      for g, e in zip(grads, expected_grads):
        assert_close(g, e)
      # Second order, as a gradient penalty needs: the gradient of a gradient's norm.
      penalty = lambda fn: lambda w: jnp.sum(jax.grad(loss(fn), 0)(x, w) ** 2)
      assert_close(jax.grad(penalty(conv.conv2d))(w), jax.grad(penalty(xla_conv))(w),
                   SECOND_ORDER)

  @parameterized.parameters((16, 5, 1, 6, 8), (16, 4, 2, 24, 4), (17, 3, 1, 12, 4))
  def test_chunked_products_match_xla(self, size, kernel, stride, c, o):
    # With the chunk threshold lowered, these small cases run as large ones do: the forward
    # product and both weight-gradient forms as batches of chunk products (rows split evenly
    # into 2..64 chunks, 17x17 positions included).
    self.enter_context(mock.patch.object(conv, "_CHUNK_MIN_ROWS", 256))
    self.enter_context(mock.patch.object(conv, "_CHUNK_ROWS", 64))
    self.enter_context(mock.patch.object(conv, "_XLA_FORWARD_MAX_SIZE", 0))
    self.assertGreater(conv._chunks(2 * size * size), 1)
    x, w = random_case(size, kernel, c, o)
    with jax.default_matmul_precision("highest"):
      assert_close(conv.conv2d(x, w, stride), xla_conv(x, w, stride, "SAME"))
      loss = lambda fn: lambda x, w: jnp.sum(jnp.sin(fn(x, w, stride, "SAME")))
      for g, e in zip(jax.grad(loss(conv.conv2d), (0, 1))(x, w),
                      jax.grad(loss(xla_conv), (0, 1))(x, w)):
        assert_close(g, e)

  def test_drop_in_for_haiku_conv(self):
    x = jax.random.uniform(jax.random.PRNGKey(0), (3, 12, 12, 5))
    ours = hk.without_apply_rng(hk.transform(lambda x: conv.Conv2D(7, 4, stride=2)(x)))
    theirs = hk.without_apply_rng(hk.transform(lambda x: hk.Conv2D(7, 4, stride=2)(x)))
    params = ours.init(jax.random.PRNGKey(1), x)
    self.assertEqual(jax.tree.map(jnp.shape, params),
                     jax.tree.map(jnp.shape, theirs.init(jax.random.PRNGKey(1), x)))
    # Haiku's initialiser: truncated normal with stddev 1/sqrt(fan-in), zero bias.
    w = np.asarray(params["conv2_d"]["w"])
    self.assertLess(abs(w.std() * np.sqrt(4 * 4 * 5) - 0.88), 0.15)
    np.testing.assert_array_equal(params["conv2_d"]["b"], 0.0)
    params = jax.tree.map(lambda p: p + 0.1, params)
    with jax.default_matmul_precision("highest"):
      assert_close(ours.apply(params, x), theirs.apply(params, x))

  def test_broadcast_add_gradient_sums_leading_axes(self):
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 3, 2))
    b = jax.random.normal(jax.random.PRNGKey(1), (3, 2))
    loss = lambda x, b: jnp.sum(jnp.cos(conv.broadcast_add(x, b)) * jnp.arange(24.).reshape(x.shape))
    plain = lambda x, b: jnp.sum(jnp.cos(x + b) * jnp.arange(24.).reshape(x.shape))
    for g, e in zip(jax.grad(loss, (0, 1))(x, b), jax.grad(plain, (0, 1))(x, b)):
      np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)

  def test_broadcast_add_gradient_for_a_wide_map(self):
    # More than _NARROW values: the product-with-ones route.
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 32, 40))
    b = jax.random.normal(jax.random.PRNGKey(1), (32, 40))
    weights = jax.random.normal(jax.random.PRNGKey(2), x.shape)
    with jax.default_matmul_precision("highest"):
      got = jax.grad(lambda b: jnp.sum(jnp.sin(conv.broadcast_add(x, b)) * weights))(b)
    np.testing.assert_allclose(got, jax.grad(lambda b: jnp.sum(jnp.sin(x + b) * weights))(b),
                               rtol=1e-5, atol=1e-5)

  # Two chunks, two chunks with a remainder-free split of 70000, and one product (few rows).
  @parameterized.parameters((9216, 5, 3), (70000, 16, 4), (3001, 7, 2))
  def test_gram_in_chunks_equals_one_product(self, rows, k, o):
    self.enter_context(mock.patch.object(conv, "_CHUNK_MIN_ROWS", 8192))
    rng = np.random.default_rng(rows)
    a = rng.normal(size=(rows, k)).astype(np.float32)
    b = rng.normal(size=(rows, o)).astype(np.float32)
    with jax.default_matmul_precision("highest"):
      got = conv._gram(jnp.asarray(a).reshape(rows, 1, k), jnp.asarray(b))
    np.testing.assert_allclose(got, a.astype(np.float64).T @ b, rtol=1e-4, atol=1e-2)

  def test_conv2d_module_adds_an_offset_with_its_bias(self):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 6, 3))
    offset = jax.random.normal(jax.random.PRNGKey(1), (6, 6, 4))
    net = hk.without_apply_rng(hk.transform(lambda x, m: conv.Conv2D(4, 3)(x, m)))
    params = net.init(jax.random.PRNGKey(2), x, offset)
    params = jax.tree.map(lambda p: p + 0.5, params)
    with jax.default_matmul_precision("highest"):
      plain = xla_conv(x, params["conv2_d"]["w"], 1, "SAME") + params["conv2_d"]["b"]
      assert_close(net.apply(params, x, offset), plain + offset)
      loss = lambda p, m: jnp.sum(jnp.sin(net.apply(p, x, m)))
      grads, offset_grad = jax.grad(loss, (0, 1))(params, offset)
    # The bias's gradient is the offset's, summed over positions.
    np.testing.assert_allclose(grads["conv2_d"]["b"], offset_grad.sum((0, 1)), rtol=1e-5,
                               atol=1e-5)

  @parameterized.parameters((12, 4, 24, 8), (11, 3, 6, 8), (9, 5, 2, 3))
  def test_column_patch_route_matches_xla(self, size, kernel, c, o):
    # Column patches times all kernel rows, then a sum of row-shifted blocks (VALID, stride 1).
    x, w = random_case(size, kernel, c, o)
    with jax.default_matmul_precision("highest"):
      assert_close(conv._conv_by_rows(x, w), xla_conv(x, w, 1, "VALID"))
      loss = lambda fn: lambda x, w: jnp.sum(jnp.sin(fn(x, w)))
      ours = lambda x, w: conv._conv_by_rows(x, w)
      theirs = lambda x, w: xla_conv(x, w, 1, "VALID")
      for g, e in zip(jax.grad(loss(ours), (0, 1))(x, w), jax.grad(loss(theirs), (0, 1))(x, w)):
        assert_close(g, e)
      penalty = lambda fn: lambda w: jnp.sum(jax.grad(loss(fn), 0)(x, w) ** 2)
      assert_close(jax.grad(penalty(ours))(w), jax.grad(penalty(theirs))(w), SECOND_ORDER)

  def test_column_patch_route_is_taken_where_it_writes_much_less(self):
    # The policy's composed first conv (4x4 on 35x35x24 space-to-depth, 32 out) writes 1.6x less
    # by columns; a residual block's 3x3 conv on 8x8x32 keeps full patches.
    taken = []
    self.enter_context(mock.patch.object(
        conv, "_conv_by_rows", lambda x, w: taken.append(x.shape) or conv._conv(x, w, ((0, 0),) * 2)))
    conv.conv2d(jnp.zeros((1, 70, 70, 6)), jnp.zeros((8, 8, 6, 32)), 2, "VALID")
    self.assertEqual(taken, [(1, 35, 35, 24)])
    conv.conv2d(jnp.zeros((1, 8, 8, 32)), jnp.zeros((3, 3, 32, 32)))
    self.assertLen(taken, 1)

  def test_bad_input_names_the_shapes(self):
    with self.assertRaisesRegex(ValueError, r"expects \(N, H, W, 3\)"):
      conv.conv2d(jnp.zeros((1, 8, 8, 4)), jnp.zeros((3, 3, 3, 2)))
    with self.assertRaisesRegex(ValueError, "padding must be"):
      conv.conv2d(jnp.zeros((1, 8, 8, 3)), jnp.zeros((3, 3, 3, 2)), padding="FULL")



def two_convs(x, w1, w2, stride, offset, frame_offset):
  with conv.xla_convolutions():
    return conv.conv2d_pair(x, w1, w2, stride, offset, frame_offset)


class ConvPairTest(parameterized.TestCase):
  """Two convolutions with nothing in between, run as one composed conv plus border strips."""

  # (height, width, first kernel, second kernel, stride): the policy's 5x5 then 4x4 stride 2
  # (on an image large enough for the column-patch route), odd and non-square sizes, stride 1
  # and 3, a kernel size not a multiple of the stride.
  @parameterized.parameters((40, 40, 5, 4, 2), (13, 11, 5, 4, 2), (12, 12, 3, 3, 2),
                            (12, 10, 5, 3, 1), (18, 18, 5, 6, 3))
  def test_matches_the_two_layers(self, h, w, k1, k2, stride):
    keys = jax.random.split(jax.random.PRNGKey(h * w + k1), 5)
    x = jax.random.normal(keys[0], (2, h, w, 3))
    # Initialiser-sized kernels (outputs of order 1, as in a network).
    w1 = jax.random.normal(keys[1], (k1, k1, 3, 5)) / np.sqrt(k1 * k1 * 3)
    w2 = jax.random.normal(keys[2], (k2, k2, 5, 4)) / np.sqrt(k2 * k2 * 5)
    offset = jax.random.normal(keys[3], (h, w, 5))  # a map (the bias and coordinate channels)
    frame_offset = jax.random.normal(keys[4], (2, 5))  # one vector per image (the action)
    args = (x, w1, w2, offset, frame_offset)
    ours = lambda x, w1, w2, m, e: conv.conv2d_pair(x, w1, w2, stride, m, e)
    theirs = lambda x, w1, w2, m, e: two_convs(x, w1, w2, stride, m, e)
    with jax.default_matmul_precision("highest"):
      y = jax.jit(ours)(*args)
      expected = theirs(*args)
      self.assertEqual(y.shape, expected.shape)
      assert_close(y, expected)
      loss = lambda fn: lambda *a: jnp.sum(jnp.sin(fn(*a)))
      for g, e in zip(jax.grad(loss(ours), range(5))(*args), jax.grad(loss(theirs), range(5))(*args)):
        assert_close(g, e)
      # A bias instead of a map, and no per-image vector.
      assert_close(conv.conv2d_pair(x, w1, w2, stride, offset[0, 0]),
                   two_convs(x, w1, w2, stride, offset[0, 0], None))

  def test_composed_kernel(self):
    w1 = jax.random.normal(jax.random.PRNGKey(0), (3, 2, 2, 4))
    w2 = jax.random.normal(jax.random.PRNGKey(1), (2, 3, 4, 5))
    expected = np.zeros((4, 4, 2, 5))
    for a in np.ndindex(2, 3):
      for b in np.ndindex(3, 2):
        expected[a[0] + b[0], a[1] + b[1]] += np.asarray(w1[b]) @ np.asarray(w2[a])
    with jax.default_matmul_precision("highest"):
      np.testing.assert_allclose(conv.compose_kernels(w1, w2), expected, rtol=1e-5, atol=1e-5)

  def test_bad_input_names_the_shapes(self):
    with self.assertRaisesRegex(ValueError, "matching channels"):
      conv.conv2d_pair(jnp.zeros((1, 8, 8, 3)), jnp.zeros((5, 5, 3, 4)), jnp.zeros((4, 4, 6, 4)), 2)


if __name__ == "__main__":
  absltest.main()
