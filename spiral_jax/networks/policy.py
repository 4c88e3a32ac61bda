"""The SPIRAL policy (paper appendix B, Figs. 12-13), built from dm_env specs alone.

Per step: the canvas (with the target concatenated on channels for a conditional agent, and x/y
coordinate channels) goes through a conv; the previous action, each component embedded and masked
by whether it was used, is added to those features; strided convs, residual blocks, an FC layer
and an LSTM give z_0. An autoregressive decoder then produces the action one component at a time,
in the action spec's order: logits from z_i (a linear layer for a scalar component; a spatial head
of upsampling convs with one logit per grid cell for an (x, y) location), a sample a_i, and
z_{i+1} = MLP(z_i, embed(a_i)). A linear value head reads z_0. A "blind" policy sees a blank canvas.

Two entry points, both jittable and batched:
  * `step` samples actions for one time step (acting);
  * `unroll` scores given actions over a (T, B) trajectory (learning): log-probs, entropies and
    values. The conv torso runs on all T*B frames at once; only the LSTM is sequential.
The LSTM state resets wherever `first` (the episode's FIRST step) is true.

Observations must hold "canvas" (H, W, C) in [0, 1]; an "action_mask" dict, if present, masks
the previous action's embedding.
"""

import dataclasses
import math
import re
from typing import Any, Dict, NamedTuple, Optional, Tuple

import chex
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from spiral_jax import specs
from spiral_jax.networks import conv
from spiral_jax.networks import initialise


@dataclasses.dataclass(frozen=True)
class PolicyConfig:
  """Sizes of the policy network."""
  torso_channels: int = 32
  first_kernel: int = 5
  first_stride: int = 1  # > 1 cuts the first conv's cost: a patchifying conv for small configs
  num_downsamples: int = 3  # 4x4 convs with stride 2: 64 -> 8
  num_res_blocks: int = 8
  fc_size: int = 256
  lstm_size: int = 256
  embed_dim: int = 16
  location_channels: int = 16  # z is projected to a 4x4 map of this many channels
  location_res_blocks: int = 2
  coordinate_channels: bool = True
  # > 0: a convolutional branch at each location grid's resolution (this many channels) reads the
  # canvas and target directly, and adds logits to the spatial heads' (gated by z_i). 0 is the
  # paper's policy, where a location is read from z_i alone.
  location_skip_channels: int = 0
  # With the branch: a learned linear map over the grid's cells (initialised to the identity)
  # moves the branch's features from where they are in the image to the cells they belong to.
  # A painting's grid lies on the canvas; a camera's perspective (MuJoCo Scenes) does not.
  location_skip_warp: bool = False
  # With the branch: once a location is chosen, the branch's features at that cell join the
  # decoder's input for the components after it (a scene object's size and colour read the
  # target where the object goes).
  location_readout: bool = False
  # > 0: with the branch, a finer path (this many channels) reads the canvas and target at twice
  # the grid's resolution and hands the branch each cell's 2x2 sub-cells through a projection
  # that starts at zero: an agent trained without it starts unchanged (`init_from`) and can learn
  # detail smaller than a cell (a small scene object's shape).
  location_fine_channels: int = 0
  # > 0: once a location is chosen, a glimpse: a square of this many pixels of the canvas and
  # target around the chosen cell's place in the image, read at full resolution by a small conv
  # net whose features join the decoder's input for the components after it, through a projection
  # that starts at zero (like the fine path, `init_from` can add it to an agent trained without
  # it). A scene object's shape is told by a few pixels that the branch sees only in summary.
  location_glimpse: int = 0
  glimpse_channels: int = 16
  # With the glimpse: the homography (9 numbers, row-major) that takes a cell's (x + 0.5, y + 0.5,
  # 1) to its centre in the image (column, row, scale, in pixels). Empty: the cell's own square
  # of the canvas, as a painting's grid lies on it; a camera's perspective needs its homography
  # (MuJoCo Scenes: the renderer's `SceneRenderer.grid_homography()`, which
  # `experiments/configs/mujoco_long.py` holds as GRID_HOMOGRAPHY).
  location_glimpse_homography: Tuple[float, ...] = ()
  # A location head after another on the same grid also reads where that one was chosen (its
  # one-hot map) through a 5x5 conv that starts at zero (growable like the fine path): a
  # stroke's control point can follow its end exactly, which z_i's coarse map only roughly can.
  location_feedback: bool = False
  # With the branch: its features, each channel's largest over the cells, join the decoder's
  # input for the first component through a projection that starts at zero (growable like the
  # fine path). Whether anything is left to add (a scene's `mode`) is decided before a place is
  # chosen, from the torso's coarse summary, which can miss a small object that the branch sees.
  branch_summary: bool = False
  # The components the decoder produces first, in this order; the others follow in the action
  # spec's order. ("mode", "location") lets a scene object's shape, size and colour read the
  # target where the object goes (with location_readout); () is the spec's order.
  decode_first: Tuple[str, ...] = ()

  def __post_init__(self):
    object.__setattr__(self, "decode_first", tuple(self.decode_first))  # a list from JSON
    object.__setattr__(self, "location_glimpse_homography",
                       tuple(float(v) for v in self.location_glimpse_homography))
    if len(self.location_glimpse_homography) not in (0, 9):
      raise ValueError("location_glimpse_homography holds a 3x3 matrix's 9 numbers (row-major) "
                       f"or nothing; it has {len(self.location_glimpse_homography)}.")
    if self.location_glimpse < 0 or self.location_glimpse % 2:
      raise ValueError("location_glimpse is the glimpse's side in pixels, an even number (or 0 "
                       f"for none); it is {self.location_glimpse}.")
    if len(set(self.decode_first)) != len(self.decode_first):
      raise ValueError(f"decode_first names a component twice: {self.decode_first!r}.")


# The name scopes of the branch's fine path, the glimpse and the branch's summary: the parameters
# a run may add to an agent trained without them (`spiral_jax.training.initialised_from`), as
# their outputs start at zero.
FINE_SCOPE = "fine"
GLIMPSE_SCOPE = "glimpse"
SUMMARY_SCOPE = "summary"
FEEDBACK_SCOPE = "feedback"
GROWN_SCOPES = (FINE_SCOPE, GLIMPSE_SCOPE, SUMMARY_SCOPE, FEEDBACK_SCOPE)


def is_grown(module):
  """Whether a policy module (a parameter dict's key) is under one of GROWN_SCOPES (the glimpse's
  scope is named after its location component: glimpse_location, glimpse_end, ...)."""
  return any(part == scope or part.startswith(scope + "_")
             for part in module.split("/") for scope in GROWN_SCOPES)

PAPER = PolicyConfig()
# Fast enough for CPU tests and demos: the first conv patchifies the canvas into 8x8 blocks.
SMALL = PolicyConfig(torso_channels=16, first_kernel=8, first_stride=8, num_downsamples=0,
                     num_res_blocks=1, fc_size=64, lstm_size=64, embed_dim=8, location_channels=4,
                     location_res_blocks=1)


class StepInputs(NamedTuple):
  """What the policy sees at a time step (leading dims (B,) or (T, B))."""
  canvas: jnp.ndarray
  prev_action: Dict[str, jnp.ndarray]
  action_mask: Dict[str, jnp.ndarray]
  first: jnp.ndarray  # bool: FIRST step of an episode (resets the LSTM)
  target: Optional[jnp.ndarray] = None


class PolicyOutput(NamedTuple):
  log_prob: jnp.ndarray
  entropy: jnp.ndarray
  value: jnp.ndarray


def _residual(x, channels, name):
  with hk.experimental.name_scope(name):
    h = jax.nn.relu(x)
    h = conv.Conv2D(channels, 3)(h)
    h = jax.nn.relu(h)
    h = conv.Conv2D(channels, 3)(h)
  return x + h


def _first_conv(x, config, name, with_bias=True, offset=None):
  """The torso's first conv, plus offset (a map like one output frame) if given; a patchifying
  one (stride == kernel) is a linear layer on the space-to-depth image (its parameters kept as a
  linear layer's, as saved checkpoints hold them)."""
  k = config.first_stride
  _, h, w, _ = x.shape
  if k > 1 and k == config.first_kernel and h % k == 0 and w % k == 0:
    y = hk.Linear(config.torso_channels, with_bias=with_bias, name=name)(
        conv.space_to_depth(x, k))
    return y if offset is None else conv.broadcast_add(y, offset)
  return conv.Conv2D(config.torso_channels, config.first_kernel, stride=k, with_bias=with_bias,
                     name=name)(x, offset)


def _embed(index, num_values, dim, name, one_hot=None):
  """An embedding as a one-hot matrix product: its gradient is a matmul, not a scatter-add
  (which XLA runs slowly on CPU). A given (straight-through) `one_hot` is used as it is."""
  table = hk.get_parameter(f"{name}_embeddings", (num_values, dim),
                           init=hk.initializers.TruncatedNormal())
  if one_hot is None:
    one_hot = jax.nn.one_hot(index, num_values, dtype=table.dtype)
  return one_hot @ table


def _upsample(x, channels):
  """Doubles height and width: a 3x3 conv to 4x the channels, then depth-to-space (a sub-pixel
  conv; as expressive as a 4x4 stride-2 transposed conv and far faster on CPU)."""
  n, h, w, _ = x.shape
  x = conv.Conv2D(4 * channels, 3)(x).reshape(n, h, w, 2, 2, channels)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(n, 2 * h, 2 * w, channels)


def _fine_features(x, stride, config):
  """The branch's fine path: features at twice the grid's resolution, each cell's 2x2 sub-cells
  stacked as channels and projected to the branch's width by a map that starts at zero."""
  if stride % 2:
    raise ValueError("location_fine_channels needs grid cells an even number of pixels wide "
                     f"(they are {stride}): use a larger canvas or a coarser grid, or set it "
                     "to 0.")
  with hk.experimental.name_scope(FINE_SCOPE):
    f = jax.nn.relu(conv.Conv2D(config.location_fine_channels, stride, stride=stride // 2)(x))
    f = jax.nn.relu(conv.Conv2D(config.location_fine_channels, 3)(f))
    return hk.Linear(config.location_skip_channels, with_bias=False, w_init=jnp.zeros,
                     name="projection")(conv.space_to_depth(f, 2))


def glimpse_corners(index, grid, canvas_hw, config):
  """The top-left pixels (row, column), (N, 2) int32, of the glimpses at flat cell `index` (N,):
  squares of `config.location_glimpse` pixels centred where each cell lies in the image (see
  `PolicyConfig.location_glimpse_homography`), in the image padded by that many pixels on every
  side, so a glimpse never leaves the padded image."""
  width, height = grid
  h, w = canvas_hw
  size = config.location_glimpse
  cell = jnp.stack([(index % width).astype(jnp.float32) + 0.5,
                    (index // width).astype(jnp.float32) + 0.5], -1)
  if config.location_glimpse_homography:
    matrix = jnp.asarray(config.location_glimpse_homography, jnp.float32).reshape(3, 3)
    mapped = jnp.concatenate([cell, jnp.ones_like(cell[:, :1])], -1) @ matrix.T
    centre = mapped[:, :2] / mapped[:, 2:]
  else:
    centre = cell * jnp.asarray([w / width, h / height], jnp.float32)
  corner = jnp.round(centre - size / 2).astype(jnp.int32)[:, ::-1] + size  # (row, column)
  return jnp.clip(corner, 0, jnp.asarray([h + size, w + size]))


def _glimpse(planes, index, comp, config, out_size):
  """The glimpse's contribution to the decoder's pre-activation after location `comp` is chosen
  at flat cell `index` (N,): (N, out_size), zero for a fresh projection."""
  size = config.location_glimpse
  n, h, w, channels = planes.shape
  padded = jnp.pad(planes, ((0, 0), (size, size), (size, size), (0, 0)))
  corners = glimpse_corners(index, comp.grid, (h, w), config)
  crops = jax.vmap(lambda image, corner: jax.lax.dynamic_slice(
      image, (corner[0], corner[1], 0), (size, size, channels)))(padded, corners)
  with hk.experimental.name_scope(f"{GLIMPSE_SCOPE}_{comp.name}"):
    g = jax.nn.relu(conv.Conv2D(config.glimpse_channels, 3)(crops))
    g = jax.nn.relu(conv.Conv2D(2 * config.glimpse_channels, 3, stride=2)(g))
    g = jax.nn.relu(hk.Linear(4 * config.glimpse_channels)(g.reshape(n, -1)))
    return hk.Linear(out_size, with_bias=False, w_init=jnp.zeros, name="projection")(g)


class _Network(hk.Module):
  """The policy's Haiku modules; see `Policy` for the interface."""

  def __init__(self, components, config, conditional, blind):
    super().__init__(name="policy")
    self._components = components
    first = [c for name in config.decode_first for c in components if c.name == name]
    self._decode_order = first + [c for c in components if c.name not in config.decode_first]
    self._config = config
    self._conditional = conditional
    self._blind = blind
    self._core = hk.ResetCore(hk.LSTM(config.lstm_size, name="lstm"))

  def initial_state(self, batch_size):
    return self._core.initial_state(batch_size)

  # Torso.

  def _embed_action(self, prev_action, action_mask):
    c = self._config
    parts = []
    for comp in self._components:
      value = prev_action[comp.name]
      index = specs.location_to_index(value, comp.grid) if comp.is_location else value
      embedding = _embed(index, comp.num_values, c.embed_dim, f"prev_{comp.name}")
      parts.append(embedding * action_mask[comp.name][..., None].astype(embedding.dtype))
    return hk.Linear(c.torso_channels, name="prev_action_mlp")(
        jax.nn.relu(jnp.concatenate(parts, axis=-1)))

  def _skip_maps(self, planes):
    """{grid: (N, height, width, location_skip_channels)} feature maps at each location grid's
    resolution, from the input planes and coordinate channels."""
    c = self._config
    n, h, w, _ = planes.shape
    ys, xs = jnp.meshgrid(jnp.linspace(-1, 1, h), jnp.linspace(-1, 1, w), indexing="ij")
    x = jnp.concatenate([planes, jnp.broadcast_to(jnp.stack([xs, ys], -1), (n, h, w, 2))], -1)
    maps = {}
    for grid in sorted({comp.grid for comp in self._components if comp.is_location}):
      stride = h // grid[1]
      if h % grid[1] or w % grid[0] or w // grid[0] != stride:
        raise ValueError(f"location_skip_channels needs a canvas ({h}x{w}) that is a whole "
                         f"number of grid cells ({grid[0]}x{grid[1]}) wide and high.")
      with hk.experimental.name_scope(f"skip_{grid[0]}x{grid[1]}"):
        y = jax.nn.relu(conv.Conv2D(c.location_skip_channels, 2 * stride, stride=stride)(x))
        if c.location_fine_channels:
          y = y + _fine_features(x, stride, c)
        y = jax.nn.relu(conv.Conv2D(c.location_skip_channels, 3)(y))
        if c.location_skip_warp:
          cells = grid[0] * grid[1]
          warp = hk.get_parameter("warp", (cells, cells), init=lambda s, d: jnp.eye(*s, dtype=d))
          y = jnp.einsum("npc,pq->nqc", y.reshape(n, cells, -1), warp).reshape(y.shape)
        maps[grid] = y
    return maps

  def _torso(self, inputs):
    """(N, H, W, C) frames -> ((N, fc_size) features, skip maps or None, (N, H, W, C') the input
    planes: the canvas and, for a conditional policy, the target)."""
    c = self._config
    canvas = inputs.canvas.astype(jnp.float32)
    if self._blind:
      canvas = jnp.ones_like(canvas)
    planes = [canvas]
    if self._conditional:
      planes.append(inputs.target.astype(jnp.float32))
    planes = jnp.concatenate(planes, axis=-1)
    skips = None
    if c.location_skip_channels:
      skips = self._skip_maps(planes)
    coordinates = None
    if c.coordinate_channels:
      # A conv is linear, so the coordinate channels' share is one constant map, computed once
      # and added with the first conv's bias.
      h, w = canvas.shape[1:3]
      ys, xs = jnp.meshgrid(jnp.linspace(-1, 1, h), jnp.linspace(-1, 1, w), indexing="ij")
      coordinates = _first_conv(jnp.stack([xs, ys], -1)[None], c, "coordinate_conv",
                                with_bias=False)[0]
    x = planes
    downs = [conv.Conv2D(c.torso_channels, 4, stride=2, name=f"down_{i}")
             for i in range(c.num_downsamples)]
    if c.first_stride == 1 and downs:
      # Nothing non-linear between the first conv (with the action added) and the first strided
      # conv: the two run as one composed conv (`conv.conv2d_pair`), same parameters.
      first = conv.Conv2D(c.torso_channels, c.first_kernel, name="first_conv")
      w1, b1 = first.parameters(x.shape[-1])
      embedding = self._embed_action(inputs.prev_action, inputs.action_mask)
      w2, b2 = downs[0].parameters(c.torso_channels)
      offset = b1 if coordinates is None else coordinates + b1
      x = conv.conv2d_pair(x, w1, w2, 2, offset=offset, frame_offset=embedding)
      x = jax.nn.relu(conv.broadcast_add(x, b2))
      downs = downs[1:]
    else:
      x = _first_conv(x, c, "first_conv", offset=coordinates)
      x = x + self._embed_action(inputs.prev_action, inputs.action_mask)[:, None, None, :]
    for down in downs:
      x = jax.nn.relu(down(x))
    for i in range(c.num_res_blocks):
      x = _residual(x, c.torso_channels, f"res_{i}")
    x = jax.nn.relu(x)
    features = jax.nn.relu(hk.Linear(c.fc_size, name="fc")(x.reshape(x.shape[0], -1)))
    return features, skips, planes

  def _summary(self, skips, out_size):
    """The branch's summary for the decoder (see `PolicyConfig.branch_summary`): (N, out_size),
    zero for a fresh projection."""
    pooled = jnp.concatenate([jnp.max(m, axis=(1, 2)) for _, m in sorted(skips.items())], -1)
    with hk.experimental.name_scope(SUMMARY_SCOPE):
      h = jax.nn.relu(hk.Linear(out_size)(pooled))
      return hk.Linear(out_size, with_bias=False, w_init=jnp.zeros, name="projection")(h)

  # Decoder.

  def _logits(self, comp, z, skips=None, picked=None):
    """The component's logits (N, num_values); `picked`: {grid: [(N, cells) one-hot vectors of
    the locations chosen before it]}, for `PolicyConfig.location_feedback`."""
    c = self._config
    if not comp.is_location:
      return hk.Linear(comp.num_values, name=f"head_{comp.name}")(z)
    width, height = comp.grid
    with hk.experimental.name_scope(f"head_{comp.name}"):
      x = hk.Linear(4 * 4 * c.location_channels)(z).reshape(-1, 4, 4, c.location_channels)
      for i in range(c.location_res_blocks):
        x = _residual(x, c.location_channels, f"res_{i}")
      size = 4
      while 2 * size < max(width, height):
        x = jax.nn.relu(_upsample(jax.nn.relu(x), c.location_channels))
        size *= 2
      # The last doubling emits the logits directly (one channel, sub-pixel).
      # A bias shared by every cell would be redundant under the softmax (its gradient is 0).
      x = _upsample(x, 1) if size < max(width, height) else conv.Conv2D(1, 3, with_bias=False)(x)
      x = x[:, :height, :width, 0]
      if skips is not None:
        # The skip branch, gated channel by channel by z_i (which knows the components chosen
        # before this one), adds one logit per cell.
        gate = hk.Linear(c.location_skip_channels, name="skip_gate")(z)
        h = jax.nn.relu(skips[comp.grid] * (1.0 + gate[:, None, None, :]))
        x = x + conv.Conv2D(1, 3, with_bias=False, name="skip_logits")(h)[..., 0]
    before = (picked or {}).get(comp.grid, [])
    if c.location_feedback and before:
      maps = jnp.stack(before, -1).reshape(x.shape[0], height, width, len(before))
      with hk.experimental.name_scope(f"{FEEDBACK_SCOPE}_{comp.name}"):
        w = hk.get_parameter("w", (5, 5, len(before), 1), maps.dtype, init=jnp.zeros)
        x = x + conv.conv2d(maps, w)[..., 0]
    return x.reshape(x.shape[0], height * width)

  def _decode(self, z, actions, greedy=False, temperature=None, skips=None, weights=None,
              planes=None):
    """Samples (actions None; the most likely value of each when greedy) or scores (actions
    given) every component in turn. With a `temperature`, sampling is also relaxed: each
    component's value comes with a straight-through one-hot vector (see `Policy.relaxed_step`).
    `weights` ({component: (N,)}, scoring only) weighs each component's log-prob and entropy.
    `planes` (N, H, W, C): the canvas (and target), which the glimpse reads."""
    c = self._config
    out_actions, relaxed, log_prob, entropy = {}, {}, 0.0, 0.0
    picked = {}  # {grid: one-hot vectors of the locations chosen so far}
    for i, comp in enumerate(self._decode_order):
      logits = self._logits(comp, z, skips, picked)
      log_p = jax.nn.log_softmax(logits)
      one_hot = None
      if actions is None and temperature is not None:
        # Gumbel-max draws what jax.random.categorical draws; the soft vector carries gradients.
        noisy = logits + jax.random.gumbel(hk.next_rng_key(), logits.shape, logits.dtype)
        index = jnp.argmax(noisy, axis=-1)
        soft = jax.nn.softmax(noisy / temperature)
        one_hot = jax.nn.one_hot(index, comp.num_values, dtype=soft.dtype)
        one_hot = one_hot + (soft - jax.lax.stop_gradient(soft))  # exactly one-hot forward
        relaxed[comp.name] = one_hot
      elif actions is None:
        index = (jnp.argmax(logits, axis=-1) if greedy
                 else jax.random.categorical(hk.next_rng_key(), logits))
      else:
        given = actions[comp.name]
        index = specs.location_to_index(given, comp.grid) if comp.is_location else given
      index = index.astype(jnp.int32)
      weight = 1.0 if weights is None else weights[comp.name]
      log_prob += weight * jnp.take_along_axis(log_p, index[:, None], axis=-1)[:, 0]
      entropy += weight * -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)
      out_actions[comp.name] = (specs.index_to_location(index, comp.grid).astype(comp.dtype)
                                if comp.is_location else index.astype(comp.dtype))
      if comp.is_location:
        # The chosen cell as a one-hot vector (straight-through when relaxed), for the read-out
        # and the location feedback.
        chosen = (one_hot if one_hot is not None
                  else jax.nn.one_hot(index, comp.num_values, dtype=logits.dtype))
        if c.location_feedback:
          picked.setdefault(comp.grid, []).append(chosen)
      if i + 1 < len(self._decode_order):
        embedding = _embed(index, comp.num_values, c.embed_dim, f"decoder_embed_{comp.name}",
                           one_hot)
        if comp.is_location and skips is not None and c.location_readout:
          # The branch's features at the chosen cell (a one-hot product: a matmul gradient).
          cells = skips[comp.grid].reshape(embedding.shape[0], comp.num_values, -1)
          embedding = jnp.concatenate([embedding, jnp.einsum("np,npc->nc", chosen, cells)], -1)
        z = hk.Linear(c.lstm_size, name=f"decoder_{comp.name}")(
            jnp.concatenate([z, embedding], axis=-1))
        if comp.is_location and c.location_glimpse:
          z = z + _glimpse(planes, index, comp, c, c.lstm_size)
        z = jax.nn.relu(z)
    return out_actions, relaxed, log_prob, entropy

  # Entry points.

  def forward(self, inputs, actions, state, greedy=False, temperature=None, weights=None):
    """(T, B) inputs -> (actions, relaxed actions, PolicyOutput of (T, B), state); samples where
    actions is None (relaxed too, with a temperature); `weights`: see `_decode`."""
    t, b = inputs.first.shape
    flat = jax.tree.map(lambda x: x.reshape((t * b,) + x.shape[2:]), inputs)
    features, skips, planes = self._torso(flat)
    features = features.reshape(t, b, -1)
    z, state = hk.dynamic_unroll(self._core, (features, inputs.first), state)
    z = z.reshape(t * b, -1)
    value = hk.Linear(1, name="value")(z)[:, 0]
    if self._config.branch_summary:
      z = z + self._summary(skips, z.shape[-1])
    flatten = lambda tree: None if tree is None else jax.tree.map(
        lambda x: x.reshape((t * b,) + x.shape[2:]), tree)
    sampled, relaxed, log_prob, entropy = self._decode(z, flatten(actions), greedy, temperature,
                                                       skips, flatten(weights), planes)
    unflatten = lambda x: x.reshape((t, b) + x.shape[1:])
    return (jax.tree.map(unflatten, sampled), jax.tree.map(unflatten, relaxed),
            jax.tree.map(unflatten, PolicyOutput(log_prob, entropy, value)), state)


class Policy:
  """The SPIRAL policy for any dm_env with an image "canvas" and an integer action spec.

  Attributes:
    components: the action components as read from the spec (`spiral_jax.specs`).
  """

  def __init__(self, observation_spec, action_spec, config=SMALL, conditional=False, blind=False):
    if "canvas" not in observation_spec:
      raise ValueError("The policy needs an observation named 'canvas' (an (H, W, C) image); "
                       f"the observation spec has {sorted(observation_spec)}.")
    if ((config.location_skip_warp or config.location_readout or config.location_fine_channels
         or config.branch_summary) and not config.location_skip_channels):
      raise ValueError("location_skip_warp, location_readout, location_fine_channels and "
                       "branch_summary act on the location heads' branch: set "
                       "location_skip_channels > 0 too.")
    self.components = specs.components(action_spec)
    unknown = sorted(set(config.decode_first) - {c.name for c in self.components})
    if unknown:
      raise ValueError(f"decode_first names {unknown}, which the action spec does not have: its "
                       f"components are {[c.name for c in self.components]}.")
    self.config = config
    self.conditional = conditional
    self.blind = blind
    self.canvas_shape = tuple(observation_spec["canvas"].shape)
    self._action_spec = action_spec

    def build():
      net = _Network(self.components, config, conditional, blind)
      return net.forward, (net.forward, net.initial_state)

    self._transformed = hk.multi_transform(build)

  # Helpers to make inputs.

  def zero_action(self, batch_shape=()):
    return {c.name: jnp.zeros(batch_shape + ((2,) if c.is_location else ()), c.dtype)
            for c in self.components}

  def full_mask(self, batch_shape=()):
    return {c.name: jnp.ones(batch_shape, jnp.float32) for c in self.components}

  def dummy_inputs(self, batch_shape):
    target = jnp.zeros(batch_shape + self.canvas_shape) if self.conditional else None
    return StepInputs(canvas=jnp.ones(batch_shape + self.canvas_shape),
                      prev_action=self.zero_action(batch_shape),
                      action_mask=self.full_mask(batch_shape),
                      first=jnp.ones(batch_shape, bool), target=target)

  def inputs(self, observation, prev_action, first, target=None):
    """StepInputs from a (batched) observation dict, the previous action and FIRST flags."""
    mask = observation.get("action_mask")
    batch_shape = tuple(np.shape(first))
    if mask is None:
      mask = self.full_mask(batch_shape)
    return StepInputs(canvas=observation["canvas"], prev_action=prev_action, action_mask=mask,
                      first=jnp.asarray(first, bool), target=target)

  # The network.

  def init(self, key):
    def init(key):
      return self._transformed.init(key, self.dummy_inputs((1, 1)), self.zero_action((1, 1)),
                                    self.initial_state(1))
    return initialise.run_once(init, key)

  def initial_state(self, batch_size):
    _, initial_state = self._transformed.apply
    return initial_state({}, None, batch_size)

  def _check_inputs(self, inputs: StepInputs, batch_shape: Tuple[int, ...]):
    chex.assert_shape(inputs.canvas, batch_shape + self.canvas_shape)
    chex.assert_shape(inputs.first, batch_shape)
    if self.conditional:
      if inputs.target is None:
        raise ValueError("A conditional policy needs the target images in its inputs.")
      chex.assert_shape(inputs.target, batch_shape + self.canvas_shape)

  def step(self, params: hk.Params, key: chex.PRNGKey, inputs: StepInputs, state: Any,
           greedy: bool = False) -> Tuple[Dict[str, chex.Array], PolicyOutput, Any]:
    """Samples one action per batch entry: (actions, PolicyOutput of (B,) arrays, new state).

    greedy: take each component's most likely value (given the ones chosen before it) instead.
    """
    self._check_inputs(inputs, tuple(np.shape(inputs.first)))
    actions, _, output, state = self._step(params, key, inputs, state, greedy, None)
    return actions, output, state

  def relaxed_step(self, params: hk.Params, key: chex.PRNGKey, inputs: StepInputs, state: Any,
                   temperature: float = 1.0
                   ) -> Tuple[Dict[str, chex.Array], Dict[str, chex.Array], PolicyOutput, Any]:
    """`step`'s sample, and each component's value as a straight-through vector over its values
    (B, num_values; a location's over grid cells, index y * width + x): one-hot forward, with the
    gradient of a Gumbel-softmax at `temperature` (Jang et al., 2017). A renderer that is
    differentiable in its actions' parameters (`spiral_jax.anakin.FunctionalEnv.relaxed_step`)
    can then pass gradients of the picture back to the policy.
    Returns (actions, relaxed actions, PolicyOutput, new state)."""
    self._check_inputs(inputs, tuple(np.shape(inputs.first)))
    return self._step(params, key, inputs, state, False, temperature)

  def _step(self, params, key, inputs, state, greedy, temperature):
    forward, _ = self._transformed.apply
    add_time = lambda x: None if x is None else x[None]
    inputs = StepInputs(*(jax.tree.map(add_time, field) if field is not None else None
                          for field in inputs))
    actions, relaxed, output, state = forward(params, key, inputs, None, state, greedy,
                                              temperature)
    drop_time = lambda x: x[0]
    return (jax.tree.map(drop_time, actions), jax.tree.map(drop_time, relaxed),
            jax.tree.map(drop_time, output), state)

  def unroll(self, params: hk.Params, inputs: StepInputs, actions: Dict[str, chex.Array],
             state: Any, component_weights: Optional[Dict[str, chex.Array]] = None
             ) -> Tuple[PolicyOutput, Any]:
    """Scores (T, B) actions: (PolicyOutput of (T, B) arrays, final state).

    component_weights: {component: (T, B)} weights of each component's log-prob and entropy in
      the sums (default all 1); 0 leaves out a component the action did not use (a scene's skip
      uses only its mode).
    """
    chex.assert_rank(inputs.first, 2)
    self._check_inputs(inputs, tuple(np.shape(inputs.first)))
    if component_weights is not None:
      missing = sorted({c.name for c in self.components} - set(component_weights))
      if missing:
        raise ValueError(f"component_weights lacks the components {missing}: give a (T, B) "
                         "weight for every action component.")
      chex.assert_tree_shape_prefix(component_weights, tuple(np.shape(inputs.first)))
    forward, _ = self._transformed.apply
    _, _, output, state = forward(params, None, inputs, actions, state, False, None,
                                  component_weights)
    return output, state


def num_parameters(params):
  return sum(math.prod(p.shape) for p in jax.tree.leaves(params))


# Widening a trained policy (`widened`): for each parameter whose shape depends on the widths that
# may grow, the layout of its input axis and its output axis as segments, each a width's name ("t":
# torso_channels, "f": fc_size, "z": lstm_size) or None (a part whose size does not change).
# A module is matched by the end of its name.
_WIDTH_LAYOUTS = (
    (r"_torso/(first_conv|coordinate_conv)$", (None,), ("t",)),
    (r"_torso/down_\d+$", ("t",), ("t",)),
    (r"_torso/res_\d+/conv2_d(_1)?$", ("t",), ("t",)),
    (r"_embed_action/prev_action_mlp$", (None,), ("t",)),
    (r"_torso/fc$", ("t*",), ("f",)),  # its rows: the torso's cells, each with "t" channels
    (r"/lstm/linear$", ("f", "z"), ("z", "z", "z", "z")),  # four gates
    (r"forward/value$", ("z",), (None,)),
    (r"_logits/head_[^/]+$", ("z",), (None,)),
    (r"_logits/head_[^/]+/(linear|skip_gate)$", ("z",), (None,)),
    (r"_decode/decoder_[^/]+$", ("z", None), ("z",)),  # z_i, then the chosen value's embedding
    (r"/glimpse_[^/]+/projection$", (None,), ("z",)),
    (r"/summary/linear$", (None,), ("z",)),
    (r"/summary/projection$", ("z",), ("z",)),
)


def _segment_map(layout, old_size, widths):
  """Where each of an axis' `old_size` positions lands in the widened axis, and the widened size."""
  if layout == ("t*",):
    old_t, new_t = widths["t"]
    cells, rest = divmod(old_size, old_t)
    if rest:
      raise ValueError(f"a torso feature axis of {old_size} is not a whole number of "
                       f"{old_t}-channel cells")
    sizes = [widths["t"]] * cells
  else:
    fixed = old_size - sum(widths[s][0] for s in layout if s is not None)
    sizes = [widths[s] if s is not None else (fixed, fixed) for s in layout]
  index, start = [], 0
  for old, new in sizes:
    index.extend(range(start, start + old))
    start += new
  return np.asarray(index), start


def widened(fresh_params, params):
  """`params`, a trained policy's, widened to the shapes of `fresh_params`, a policy whose
  torso_channels, fc_size or lstm_size are larger (the rest of its config the same), so that it
  acts exactly as before: each new unit's incoming weights are the fresh ones, and its outgoing
  weights start at zero (so they get a gradient at once, and the unit starts to count as they
  grow; Chen et al., 2016, Net2Net, with zeros instead of copies). Parameters of the same shapes
  are returned as they are. Raises ValueError when a parameter's shape differs in a way widening
  does not explain (then the two are not the same policy)."""
  def width(module, key, axis):
    return np.shape(params[module][key])[axis], np.shape(fresh_params[module][key])[axis]
  lstm = next((m for m in params if m.endswith("/lstm/linear")), None)
  fc = next((m for m in params if m.endswith("_torso/fc")), None)
  torso = next((m for m in params if re.search(r"_torso/first_conv$", m)), None)
  if None in (lstm, fc, torso) or any(m not in fresh_params for m in (lstm, fc, torso)):
    return params
  old_z, new_z = width(lstm, "b", 0)
  widths = {"t": width(torso, "w", -1), "f": width(fc, "w", -1), "z": (old_z // 4, new_z // 4)}
  if all(old == new for old, new in widths.values()):
    return params
  if any(old > new for old, new in widths.values()):
    names = {"t": "torso_channels", "f": "fc_size", "z": "lstm_size"}
    shrunk = ", ".join(f"{names[k]} {old} to {new}" for k, (old, new) in widths.items() if old > new)
    least = ", ".join(f"{names[k]}={old}" for k, (old, _) in widths.items())
    raise ValueError(f"widening only grows a policy, but it would take {shrunk}; the policy needs "
                     f"at least {least}")
  out = {}
  for module, values in params.items():
    layout = next(((i, o) for pattern, i, o in _WIDTH_LAYOUTS if re.search(pattern, module)),
                  None)
    out[module] = {}
    for key, old in values.items():
      old = np.asarray(old)
      fresh = np.asarray(fresh_params.get(module, {}).get(key, old))
      if layout is None or fresh.shape == old.shape:
        out[module][key] = old
        continue
      in_layout, out_layout = layout
      out_index, out_size = _segment_map(out_layout, old.shape[-1], widths)
      if old.ndim == 1:  # a bias: the new units' are the fresh ones
        new = fresh.copy()
        new[out_index] = old
      else:  # (..., in, out): a linear layer's or a conv's weights
        in_index, in_size = _segment_map(in_layout, old.shape[-2], widths)
        if fresh.shape != old.shape[:-2] + (in_size, out_size):
          raise ValueError(f"{module}/{key} is {fresh.shape} in the wider policy, not the "
                           f"{old.shape[:-2] + (in_size, out_size)} that widening {old.shape} "
                           "gives: the two policies differ in more than their widths.")
        new = fresh.copy()
        # The old units read nothing from the new ones; the new units keep their fresh weights.
        new[..., np.setdiff1d(np.arange(in_size), in_index)[:, None], out_index[None, :]] = 0.0
        new[..., in_index[:, None], out_index[None, :]] = old
      out[module][key] = new.astype(old.dtype)
  return out
