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
  * with few input channels and several kernel rows, patches along columns only, times all kernel
    rows at once, then a sum of row-shifted blocks (`_conv_by_rows`), which writes less;
  * two convs with nothing between them (`conv2d_pair`) run as one, of the composed kernel;
  * on small images (16x16 or less), where patch copies would cost more than the product, the
    forward pass of the patch route is XLA's own convolution (which runs well forward).

The results equal `jax.lax.conv_general_dilated`'s (up to float rounding); gradients of any order
work. `Conv2D` is a drop-in for `hk.Conv2D` (same parameter names, shapes and initialisers) for
NHWC inputs with SAME or VALID padding.

The module is longer than the others (about 500 lines) on purpose: the routes above share their
padding, chunking and hand-written VJP helpers, which only make sense together; split over files,
each part would reach into the others' private helpers.
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


def _input_gradient_conv(w, pads):
  """The kernel and padding of the stride-1 conv of dy that gives a conv's input gradient:
  dx[u] = sum_a dy[u + top - a] w[a], of dy with the flipped kernel, computed only where x is
  (not on its padding)."""
  kh, kw = w.shape[:2]
  (top, bottom), (left, right) = pads
  dx_pads = ((kh - 1 - top, kh - 1 - bottom), (kw - 1 - left, kw - 1 - right))
  return w[::-1, ::-1].transpose(0, 1, 3, 2), dx_pads


def _conv_bwd(pads, residuals, dy):
  x, w = residuals
  kh, kw, c, o = w.shape
  w_flipped, dx_pads = _input_gradient_conv(w, pads)
  dx = _conv(dy, w_flipped, dx_pads)
  if c < o:
    dw = _gram(_patches(_pad(x, pads), kh, kw), dy).reshape(w.shape)
  else:
    # The same sums from dy's patches (kh*kw*O columns, the smaller), flipped back.
    dw = _gram(x, _patches(_pad(dy, dx_pads), kh, kw)).reshape(c, kh, kw, o)
    dw = dw[:, ::-1, ::-1].transpose(1, 2, 0, 3)
  return dx, dw


_conv.defvjp(_conv_fwd, _conv_bwd)


def _row_blocks_sum(z, kh, o):
  """z (N, H, W, kh*O) -> (N, H-kh+1, W, O): the sum over i of z's i-th block of O channels,
  shifted up by i rows."""
  ho = z.shape[1] - kh + 1
  return sum(z[:, i:i + ho, :, i * o:(i + 1) * o] for i in range(kh))


@jax.custom_vjp
def _conv_by_rows(x, w):
  """A stride-1 VALID conv as patches along columns only (kw*C values per position) times all
  kernel rows at once (kh*O columns), then a shifted sum over the kernel rows: where full patches
  (kh*kw*C) would be far the larger tensor (few input channels, several kernel rows)."""
  return _conv_by_rows_fwd(x, w)[0]


def _conv_by_rows_fwd(x, w):
  kh, kw, c, o = w.shape
  columns = _patches(x, 1, kw)
  z = _matmul(columns, w.transpose(1, 2, 0, 3).reshape(kw * c, kh * o))
  return _row_blocks_sum(z, kh, o), (columns, w)


def _conv_by_rows_bwd(residuals, dy):
  columns, w = residuals
  kh, kw, c, o = w.shape
  # dz's i-th block is dy moved down by i rows; dw is one product of it with the column patches.
  # (Stacked on a new axis: XLA:CPU writes that in one pass, twice as fast as a concatenate.)
  dz = jnp.stack([_pad(dy, ((i, kh - 1 - i), (0, 0))) for i in range(kh)], axis=-2)
  dz = dz.reshape(dz.shape[:3] + (kh * o,))
  dw = _gram(columns, dz).reshape(kw, c, kh, o).transpose(2, 0, 1, 3)
  dx = _conv(dy, *_input_gradient_conv(w, ((0, 0), (0, 0))))
  return dx, dw


_conv_by_rows.defvjp(_conv_by_rows_fwd, _conv_by_rows_bwd)


def _stride1(x, w, pads):
  """A stride-1 conv by the route that writes the least: full patches (or the product first,
  `_conv`), or column patches and a sum over kernel rows (`_conv_by_rows`) where their two
  tensors are under 2/3 of the full patches. Measured on the policy's composed first conv (4x4 on
  35x35x24 space-to-depth, 32 out; 1.6x less to write), 1280 frames, forward and weight gradient:
  0.89-0.96 s by columns against 1.71-1.99 s with full patches."""
  kh, kw, c, o = w.shape
  (top, bottom), (left, right) = pads
  h, wd = x.shape[1] + top + bottom, x.shape[2] + left + right
  ho, wo = h - kh + 1, wd - kw + 1
  full = kh * kw * c * ho * wo
  by_rows = (kw * c + kh * o) * h * wo
  if c <= o and kh > 1 and max(ho, wo) > _XLA_FORWARD_MAX_SIZE and 3 * by_rows < 2 * full:
    return _conv_by_rows(_pad(x, pads), w)
  return _conv(x, w, pads)


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
    return _stride1(x, w, pads)
  x = _pad(x, pads)
  # Crop to the rows and columns the strided conv reads, then fold each s x s block to channels.
  out_h, out_w = (x.shape[1] - kh) // s + 1, (x.shape[2] - kw) // s + 1
  x = x[:, :(out_h - 1) * s + kh, :(out_w - 1) * s + kw]
  w = w.reshape(kh // s, s, kw // s, s, c, o).transpose(0, 2, 1, 3, 4, 5)
  return _stride1(space_to_depth(x, s), w.reshape(kh // s, kw // s, s * s * c, o),
                  ((0, 0), (0, 0)))


def compose_kernels(w1, w2):
  """The kernel of a stride-1 conv by w1 followed by a conv by w2: (kh1 + kh2 - 1, kw1 + kw2 - 1,
  C, O), wc[e] = sum over a + b = e of w1[b] @ w2[a]."""
  kh1, kw1, c, _ = w1.shape
  kh2, kw2, _, o = w2.shape
  wc = jnp.zeros((kh1 + kh2 - 1, kw1 + kw2 - 1, c, o), jnp.result_type(w1, w2))
  for i in range(kh2):
    for j in range(kw2):
      wc = wc.at[i:i + kh1, j:j + kw1].add(w1 @ w2[i, j])
  return wc


def _crop_pad(x, rows, cols):
  """x padded with zeros ((lo, hi) per axis; a negative amount crops) on H and W."""
  zero = ((0, 0, 0),)
  return jax.lax.pad(x, jnp.zeros((), x.dtype),
                     zero + ((rows[0], rows[1], 0), (cols[0], cols[1], 0)) + zero)


def _top_correction(x, w1, w2, stride, pads1, pads2, out_size, frame_offset, inside_only):
  """What the second conv of a pair reads of the first conv's output on the rows of its padding
  above the image, had the first conv gone on there: (N, rows of output it reaches, Wo, O).

  The composed conv computes exactly that, where the two-layer network's second conv sees zeros.
  inside_only: count only the padding rows' cells in the image's columns (the corners are counted
  with the rows above and below the image).
  """
  kh1, kw1, _, _ = w1.shape
  kw2 = w2.shape[1]
  (top1, _), (left1, _) = pads1
  (top2, _), (left2, _) = pads2
  _, wo = out_size
  if top2 == 0:
    return None
  s = stride
  w = x.shape[2]
  wq = (wo - 1) * s + kw2  # padded columns the second conv reads
  # The first conv's values on the top2 padding rows: x rows -top2-top1 ... (as padded).
  rows = (top2 + top1, kh1 - 1 - top1 - x.shape[1])
  if inside_only:  # the image's columns, then zeros for the second conv's padding columns
    band = conv2d(_crop_pad(x, rows, (left1, kw1 - 1 - left1)), w1, 1, "VALID")
    band = _crop_pad(band + frame_offset[:, None, None, :], (0, 0), (left2, wq - left2 - w))
  else:
    band = conv2d(_crop_pad(x, rows, (left2 + left1, wq + kw1 - 1 - left2 - left1 - w)),
                  w1, 1, "VALID") + frame_offset[:, None, None, :]
  # Output rows p < ceil(top2 / s) reach the band, each through kernel rows below top2 only.
  reach = -(-top2 // s)
  taps = reach * s
  kernel = jnp.pad(w2[:top2], ((0, taps - top2), (0, 0), (0, 0), (0, 0)))
  strip = _pad(band, ((0, (reach - 1) * s + taps - top2), (0, 0)))
  return conv2d(strip, kernel, s, "VALID")


def _flip_rows(pads):
  return (pads[0][::-1], pads[1])


def _transposed(pads):
  return (pads[1], pads[0])


def conv2d_pair(x, w1, w2, stride, offset=None, frame_offset=None):
  """conv2d(conv2d(x, w1) + offset + frame_offset, w2, stride), both SAME: two convolutions with
  nothing in between, the first of stride 1, computed as one.

  offset: the first conv's bias or a map like one of its output frames (H, W, C1);
  frame_offset: (N, C1), one vector per image added at every position (an embedding).

  Convolutions compose: the pair is one stride-s conv of x with `compose_kernels(w1, w2)`, of
  kernel size k1 + k2 - 1, which for a 5x5 conv followed by a 4x4 stride-2 one does 2.9 times
  fewer multiplications per output than the two layers, and never builds the first conv's output
  or its patches. That composed conv also counts the first conv's values on the second conv's
  padding, where the two-layer network sees zeros; those are subtracted (thin strips along the
  borders). The offsets go through the second conv on their own (one frame, and one vector
  product). Exact up to float rounding, gradients of any order included; under
  `xla_convolutions` the two layers run as written.
  """
  kh1, kw1, c, c1 = w1.shape
  kh2, kw2, c1_, _ = w2.shape
  if x.ndim != 4 or x.shape[-1] != c or c1_ != c1:
    raise ValueError(f"conv2d_pair expects (N, H, W, {c}) inputs and kernels with matching "
                     f"channels; got {x.shape}, {w1.shape} and {w2.shape}.")
  n, h, w, _ = x.shape
  if frame_offset is None:
    frame_offset = jnp.zeros((n, c1), x.dtype)
  if getattr(_local, "xla", False):
    y = conv2d(x, w1, 1, "SAME")
    if offset is not None:
      y = y + offset
    return conv2d(y + frame_offset[:, None, None, :], w2, stride, "SAME")
  s = stride
  pads1 = (same_padding(h, kh1, 1), same_padding(w, kw1, 1))
  pads2 = (same_padding(h, kh2, s), same_padding(w, kw2, s))
  out_size = (-(-h // s), -(-w // s))
  # The composed conv, its kernel grown with zero taps to a multiple of the stride.
  wc = compose_kernels(w1, w2)
  kch, kcw = (-(-k // s) * s for k in wc.shape[:2])
  wc = jnp.pad(wc, ((0, kch - wc.shape[0]), (0, kcw - wc.shape[1]), (0, 0), (0, 0)))
  lo = [p1[0] + p2[0] for p1, p2 in zip(pads1, pads2)]
  hi = [(size - 1) * s + k - low - full
        for size, k, low, full in zip(out_size, (kch, kcw), lo, (h, w))]
  y = conv2d(_crop_pad(x, (lo[0], hi[0]), (lo[1], hi[1])), wc, s, "VALID")
  # Minus the first conv's values on the second conv's padding, side by side.
  flip = lambda a: a[:, ::-1]
  swap = lambda a: a.transpose(0, 2, 1, 3)
  kernel_swap = lambda k: k.transpose(1, 0, 2, 3)
  sides = []
  for transposed in (False, True):
    xs, w1s, w2s = (swap(x), kernel_swap(w1), kernel_swap(w2)) if transposed else (x, w1, w2)
    p1, p2 = (_transposed(pads1), _transposed(pads2)) if transposed else (pads1, pads2)
    size = out_size[::-1] if transposed else out_size
    rows = xs.shape[1]
    # Each band reads only the first conv's reach of rows next to it: sliced (then flipped or
    # transposed) before anything else, so no pass over the whole of x.
    (top1, bottom1), k1 = p1[0], w1s.shape[0]
    near_top, near_bottom = max(k1 - 1 - top1, 1), max(k1 - 1 - bottom1, 1)
    if transposed:
      xs = swap(x[:, :, :near_top]), swap(x[:, :, rows - near_bottom:])
    else:
      xs = x[:, :near_top], x[:, rows - near_bottom:]
    top = _top_correction(xs[0], w1s, w2s, s, p1, p2, size, frame_offset, transposed)
    touched_bottom = (size[0] - 1) * s + w2s.shape[0] - p2[0][0] - rows
    bottom = _top_correction(flip(xs[1]), w1s[::-1], w2s[::-1], s, _flip_rows(p1),
                             _flip_rows(((p2[0][0], touched_bottom), p2[1])),
                             size, frame_offset, transposed)
    for piece, at_top in ((top, True), (bottom, False)):
      if piece is None:
        continue
      piece = piece if at_top else flip(piece)
      rest = size[0] - piece.shape[1]
      piece = _pad(piece, ((0, rest) if at_top else (rest, 0), (0, 0)))
      sides.append(swap(piece) if transposed else piece)
  # The offsets: a map through the second conv as one frame; a per-image vector times the sum
  # of the second conv's kernel taps, less the taps on padding (counted in `sides`).
  y = y + (frame_offset @ w2.sum((0, 1)))[:, None, None, :]
  if offset is not None:
    y = broadcast_add(y, conv2d(jnp.broadcast_to(offset, (1, h, w, c1)), w2, s, "SAME")[0])
  for piece in sides:
    y = y - piece
  return y


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

  def parameters(self, in_channels, dtype=jnp.float32):
    """The kernel (k, k, in_channels, O) and the bias (None without one), created on first use:
    for computing with them other than by calling the module (`conv2d_pair`)."""
    k = self._kernel
    stddev = 1.0 / np.sqrt(k * k * in_channels)
    w = hk.get_parameter("w", (k, k, in_channels, self._output_channels), dtype,
                         init=hk.initializers.TruncatedNormal(stddev))
    b = (hk.get_parameter("b", (self._output_channels,), dtype, init=jnp.zeros)
         if self._with_bias else None)
    return w, b

  def __call__(self, x, offset=None):
    """offset: optionally, an array shaped like the output's trailing axes (a constant map),
    added together with the bias in one pass."""
    w, b = self.parameters(x.shape[-1], x.dtype)
    y = conv2d(x, w, self._stride, self._padding)
    if b is not None:
      offset = b if offset is None else offset + b
    return y if offset is None else broadcast_add(y, offset)
