"""2D convolutions written as matrix products, for fast gradients on CPU.

XLA:CPU runs convolutions forward at a good share of its matmul speed, but their gradients slowly:
the input gradient of a strided conv becomes an input-dilated conv that multiplies mostly zeros,
and weight gradients transpose whole activation tensors first. Here every convolution, forward and
backward, is a patch copy or a shifted sum (memory passes) plus one large matrix product:

  * stride 1, VALID: either y = patches(x) @ W (kh*kw*C columns at the output's size), or, when
    the input has more channels than the output, z = x @ W' (kh*kw*O columns at the input's size)
    followed by a shifted sum of z's blocks; whichever tensor is smaller;
  * its input gradient is the same kind of conv (the kernel flipped, the gradient padded), and its
    weight gradient one product of patches with the other operand, reusing the input gradient's
    patches where those are the smaller;
  * a stride-s conv whose kernel size is a multiple of s becomes a stride-1 conv on the
    space-to-depth image (s*s*C channels, kernel k/s);
  * SAME padding is an explicit pad;
  * on small images (16x16 or less), where patch copies would cost more than the product, the
    forward pass of the patch route is XLA's own convolution (which runs well forward).

The results equal `jax.lax.conv_general_dilated`'s (up to float rounding); gradients of any order
work. `Conv2D` is a drop-in for `hk.Conv2D` (same parameter names, shapes and initialisers) for
NHWC inputs with SAME or VALID padding.
"""

import contextlib
import functools
import threading
from typing import Optional

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np


def _patches(x, kh, kw):
  """(N, H, W, C) -> (N, H-kh+1, W-kw+1, kh*kw*C), channels ordered (row, column, c).

  Built in two passes, columns then rows: the second pass copies runs of kw*C values, which
  XLA:CPU does faster than kh*kw runs of C.
  """
  _, h, w, _ = x.shape
  if kw > 1:
    x = jnp.concatenate([x[:, :, j:j + w - kw + 1] for j in range(kw)], axis=-1)
  if kh > 1:
    x = jnp.concatenate([x[:, i:i + h - kh + 1] for i in range(kh)], axis=-1)
  return x


def _chunks(rows):
  """How many row chunks a product over this many rows is split into (1: none)."""
  if rows < _CHUNK_MIN_ROWS:
    return 1
  chunks = min(_CHUNKS, max(2, rows // _CHUNK_ROWS))
  while rows % chunks:
    chunks -= 1
  return chunks


def _rows(x):
  """x (..., K) as (chunks, rows, K): the one view of an operand that both its forward product
  and its weight-gradient product read. Were their views different, XLA:CPU would compute a
  cheap producer (a transpose, a patch copy) once for each."""
  k = x.shape[-1]
  return x.reshape(_chunks(x.size // k), -1, k)


def _matmul(x, w):
  """(..., K) @ (K, O): with chunked rows, a batch of products with w broadcast (YNNPACK runs
  that as fast as one product, and it keeps the chunked view of x)."""
  rows = _rows(x)
  if rows.shape[0] == 1:
    y = rows[0] @ w
  else:
    y = jax.lax.dot_general(rows, jnp.broadcast_to(w, (rows.shape[0],) + w.shape),
                            (((2,), (1,)), ((0,), (0,))))
  return y.reshape(x.shape[:-1] + (w.shape[-1],))


def _gram(a, b):
  """sum over all leading positions of a^T b: (..., K), (..., O) -> (K, O).

  With many positions, a batch of per-chunk products summed afterwards: XLA:CPU runs one
  product contracting millions of rows at 50-75 GFLOP/s here, a batch of chunk products at
  80-120 (both operands stay as they are; YNNPACK takes neither form). Below about 250k rows
  the gain was lost in the whole update, so one product there.
  """
  a, b = _rows(a), _rows(b)
  if a.shape[0] == 1:
    return a[0].T @ b[0]
  return jax.lax.dot_general(a, b, (((1,), (1,)), ((0,), (0,)))).sum(0)


# Row chunks of the products over all positions (`_chunks`), for both the forward product and
# the weight gradient.
_CHUNKS = 64  # at most
_CHUNK_ROWS = 32768  # about, and at least two chunks from
_CHUNK_MIN_ROWS = 262144
# Up to this image size, a stride-1 conv that would multiply patches runs as XLA's convolution:
# there the patch copies cost more than the product (8x8x32, 3x3: 17 ms against 43 ms).
_XLA_FORWARD_MAX_SIZE = 16


def _pad(x, pads):
  if not any(lo or hi for lo, hi in pads):
    return x
  return jnp.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),) * (x.ndim - 3))


def _xla_conv(x, w, strides, pads):
  """XLA's own convolution, NHWC with an HWIO kernel."""
  return jax.lax.conv_general_dilated(x, w, strides, pads,
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _forward(x, w, pads):
  kh, kw, c, o = w.shape
  if c <= o and max(x.shape[1:3]) <= _XLA_FORWARD_MAX_SIZE:
    return _xla_conv(x, w, (1, 1), pads)
  if c <= o or kh == kw == 1:
    return _matmul(_patches(_pad(x, pads), kh, kw), w.reshape(kh * kw * c, o))
  # More input than output channels: multiply first (kh*kw*O columns), then add shifted blocks.
  z = _matmul(x, w.transpose(2, 0, 1, 3).reshape(c, kh * kw * o))
  z = _pad(z.reshape(x.shape[:3] + (kh * kw, o)), pads)
  oh, ow = z.shape[1] - kh + 1, z.shape[2] - kw + 1
  return sum(z[:, i:i + oh, j:j + ow, i * kw + j] for i in range(kh) for j in range(kw))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv(x, w, pads):
  """Stride-1 convolution of x (N, H, W, C) zero-padded by pads ((top, bottom), (left, right))
  with w (kh, kw, C, O)."""
  return _forward(x, w, pads)


def _conv_fwd(x, w, pads):
  # x is both multiplied now and kept for the weight gradient; both products read it through
  # _rows, so XLA materialises a transposing producer (space_to_depth) once.
  return _forward(x, w, pads), (x, w)


def _conv_bwd(pads, residuals, dy):
  x, w = residuals
  kh, kw, c, o = w.shape
  # dx[u] = sum_a dy[u + top - a] w[a]: the same kind of conv, of dy with the flipped kernel,
  # computed only where x is (not on its padding).
  (top, bottom), (left, right) = pads
  dx_pads = ((kh - 1 - top, kh - 1 - bottom), (kw - 1 - left, kw - 1 - right))
  w_flipped = w[::-1, ::-1].transpose(0, 1, 3, 2)
  dx = _conv(dy, w_flipped, dx_pads)
  if c < o:
    dw = _gram(_patches(_pad(x, pads), kh, kw), dy).reshape(w.shape)
  else:
    # The same sums from dy's patches (kh*kw*O columns, the smaller), flipped back.
    dw = _gram(x, _patches(_pad(dy, dx_pads), kh, kw)).reshape(c, kh, kw, o)
    dw = dw[:, ::-1, ::-1].transpose(1, 2, 0, 3)
  return dx, dw


_conv.defvjp(_conv_fwd, _conv_bwd)


@jax.custom_vjp
def broadcast_add(x, b):
  """x + b for b shaped like x's trailing axes (a bias, a constant map).

  The gradient for b sums over x's leading axes. For a b of more than a thousand values (a map),
  as a product with a vector of ones: XLA:CPU's reduction of a few long rows runs at a small
  fraction of memory speed, while for many short rows (a bias) it is the faster one.
  """
  return x + b


def _broadcast_add_fwd(x, b):
  return x + b, b.shape


def _broadcast_add_bwd(b_shape, dy):
  rows = dy.reshape(-1, int(np.prod(b_shape, dtype=int)))
  if rows.shape[1] <= _NARROW:
    return dy, rows.sum(0).reshape(b_shape)  # a narrow b: XLA's reduction is fast
  return dy, (jnp.ones((rows.shape[0],), dy.dtype) @ rows).reshape(b_shape)


_NARROW = 1024


broadcast_add.defvjp(_broadcast_add_fwd, _broadcast_add_bwd)


_local = threading.local()


@contextlib.contextmanager
def xla_convolutions():
  """Within this context, `conv2d` traces to XLA's own convolution (for comparisons, and for
  counting a model's FLOPs as a plain convolutional network).

  It acts when a function is traced: `jax.jit` reuses a function's earlier traces, so jit a fresh
  function (a new lambda) inside the context.
  """
  previous = getattr(_local, "xla", False)
  _local.xla = True
  try:
    yield
  finally:
    _local.xla = previous


def same_padding(size, kernel, stride):
  """(low, high) padding that gives ceil(size / stride) outputs, as XLA's SAME does."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


def space_to_depth(x, s):
  """(N, H, W, C) -> (N, H/s, W/s, s*s*C), channels ordered (row offset, column offset, c)."""
  n, h, w, c = x.shape
  x = x.reshape(n, h // s, s, w // s, s, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(n, h // s, w // s, s * s * c)


def conv2d(x, w, stride=1, padding="SAME"):
  """NHWC convolution with an HWIO kernel, as `lax.conv_general_dilated` computes it.

  Other strides than ones dividing the kernel size run as XLA's convolution.
  """
  kh, kw, c, o = w.shape
  if x.ndim != 4 or x.shape[-1] != c:
    raise ValueError(f"conv2d expects (N, H, W, {c}) inputs for a {w.shape} kernel; "
                     f"got {x.shape}.")
  sh, sw = (stride, stride) if isinstance(stride, int) else tuple(stride)
  if padding == "SAME":
    pads = (same_padding(x.shape[1], kh, sh), same_padding(x.shape[2], kw, sw))
  elif padding == "VALID":
    pads = ((0, 0), (0, 0))
  else:
    raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}.")
  # The matrix-product form needs a stride that divides the kernel, and padding below the kernel.
  supported = sh == sw and kh % sh == 0 and kw % sw == 0 and all(
      lo < k and hi < k for (lo, hi), k in zip(pads, (kh, kw)))
  if getattr(_local, "xla", False) or not supported:
    return _xla_conv(x, w, (sh, sw), pads)
  s = sh
  if s == 1:
    return _conv(x, w, pads)
  x = _pad(x, pads)
  # Crop to the rows and columns the strided conv reads, then fold each s x s block to channels.
  out_h, out_w = (x.shape[1] - kh) // s + 1, (x.shape[2] - kw) // s + 1
  x = x[:, :(out_h - 1) * s + kh, :(out_w - 1) * s + kw]
  w = w.reshape(kh // s, s, kw // s, s, c, o).transpose(0, 2, 1, 3, 4, 5)
  return _conv(space_to_depth(x, s), w.reshape(kh // s, kw // s, s * s * c, o), ((0, 0), (0, 0)))


class Conv2D(hk.Module):
  """`hk.Conv2D` for NHWC inputs (same parameters), computed by `conv2d`."""

  def __init__(self, output_channels: int, kernel_shape: int, stride: int = 1,
               padding: str = "SAME", with_bias: bool = True, name: Optional[str] = None):
    super().__init__(name=name or "conv2_d")
    self._output_channels = output_channels
    self._kernel = kernel_shape
    self._stride = stride
    self._padding = padding
    self._with_bias = with_bias

  def __call__(self, x, offset=None):
    """offset: optionally, an array shaped like the output's trailing axes (a constant map),
    added together with the bias in one pass."""
    k, c = self._kernel, x.shape[-1]
    stddev = 1.0 / np.sqrt(k * k * c)
    w = hk.get_parameter("w", (k, k, c, self._output_channels), x.dtype,
                         init=hk.initializers.TruncatedNormal(stddev))
    y = conv2d(x, w, self._stride, self._padding)
    if self._with_bias:
      b = hk.get_parameter("b", (self._output_channels,), x.dtype, init=jnp.zeros)
      offset = b if offset is None else offset + b
    return y if offset is None else broadcast_add(y, offset)
