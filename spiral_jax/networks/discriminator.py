"""The SPIRAL discriminator: a DCGAN-style conv net (paper section 3.2, appendix B).

Three kinds (`KINDS`, chosen once by name with `kind(name)`), each an object that says what D
sees:
  * unconditional D(x): is x a real image?
  * conditional D(x, target): the pair on channels (paper section 3.3);
  * complement (SPIRAL++): D(mix(x, target)) for a random mask: parts of the canvas spliced into
    the target look real only if the canvas reproduces the target. `complement_mix` makes the
    input; the network is the unconditional one.
A kind gives D's input for generated renders (`fake`) and for dataset images (`real`), scores
such inputs (`score`), and defines the item D's replay keeps of a final render (`replay_item`,
`fake_from_items`).

Spectral normalisation (SPIRAL++) is optional: `normalize` divides every weight by its largest
singular value (one power-iteration step per call, state kept by the caller).
"""

import dataclasses
from typing import Optional, Tuple

import chex
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from spiral_jax.networks import conv
from spiral_jax.networks import initialise


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig:
  channels: tuple = (64, 128, 256, 512)  # one 4x4 stride-2 conv each: 64 -> 4
  spectral_norm: bool = False
  leak: float = 0.2


PAPER = DiscriminatorConfig()
SMALL = DiscriminatorConfig(channels=(16, 32, 64))


class Discriminator:
  """D for images of `image_shape` (H, W, C); scores are unbounded reals (WGAN critic)."""

  def __init__(self, image_shape, config=SMALL, conditional=False):
    self.image_shape = tuple(image_shape)
    self.config = config
    self.conditional = conditional

    def forward(x, target):
      if conditional:
        x = jnp.concatenate([x, target], axis=-1)
      for i, channels in enumerate(config.channels):
        x = conv.Conv2D(channels, 4, stride=2, name=f"conv_{i}")(x)
        x = jax.nn.leaky_relu(x, config.leak)
      return hk.Linear(1, name="score")(x.reshape(x.shape[0], -1))[:, 0]

    self._net = hk.without_apply_rng(hk.transform(forward))
    self._sn = hk.without_apply_rng(hk.transform_with_state(
        lambda params: hk.SNParamsTree(ignore_regex=".*/b$")(params)))

  def init(self, key):
    """Returns (params, spectral-norm state or None)."""
    return initialise.run_once(self._init, key)

  def _init(self, key):
    key_net, key_sn = jax.random.split(key)
    x = jnp.zeros((1,) + self.image_shape)
    params = self._net.init(key_net, x, x if self.conditional else None)
    sn_state = None
    if self.config.spectral_norm:
      _, sn_state = self._sn.init(key_sn, params)
    return params, sn_state

  def normalize(self, params, sn_state):
    """Spectrally normalised params (a no-op without spectral norm): (params, new sn_state)."""
    if not self.config.spectral_norm:
      return params, sn_state
    return self._sn.apply(None, sn_state, params)

  def apply(self, params, x, target=None):
    """Scores (B,) for images x (B, H, W, C); pass normalised params when using spectral norm."""
    if self.conditional and target is None:
      raise ValueError("A conditional discriminator needs the target images too.")
    return self._net.apply(params, x, target if self.conditional else None)


def complement_mix(canvas, target, key):
  """Splices the canvas into the target along a random straight cut, per example.

  Returns (mixed images, masks); mask 1 where the canvas shows. The cut passes through a random
  point of the middle half of the image at a random angle, so each side keeps a good share.
  """
  batch, height, width = canvas.shape[:3]
  k_angle, k_point = jax.random.split(key)
  angle = jax.random.uniform(k_angle, (batch,), minval=0.0, maxval=2 * jnp.pi)
  point = jax.random.uniform(k_point, (batch, 2), minval=0.25, maxval=0.75)
  ys, xs = jnp.meshgrid((jnp.arange(height) + 0.5) / height, (jnp.arange(width) + 0.5) / width,
                        indexing="ij")
  side = ((xs[None] - point[:, None, None, 0]) * jnp.cos(angle)[:, None, None]
          + (ys[None] - point[:, None, None, 1]) * jnp.sin(angle)[:, None, None])
  mask = (side > 0).astype(canvas.dtype)[..., None]
  return mask * canvas + (1 - mask) * target, mask


# The kinds of discriminator.

def _concat(a, b):
  """Channel concatenation that stays numpy for numpy inputs (the host replay) and is JAX inside
  jit."""
  if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
    return np.concatenate([a, b], axis=-1)
  return jnp.concatenate([a, b], axis=-1)


class Unconditional:
  """D(x): is the render a real image? Targets, if any, are not shown to D."""
  name = "unconditional"
  conditional = False  # whether D needs the targets (so the agent reconstructs them)
  network_conditional = False  # whether the network takes (x, target) pairs

  def replay_channels(self, channels: int) -> int:
    """Channels of one replay item for renders of `channels` channels."""
    return channels

  def replay_item(self, final: chex.Array, target: Optional[chex.Array]) -> chex.Array:
    """What D's replay keeps of final renders (B, H, W, C) and their targets."""
    del target
    return final

  def fake(self, canvas: chex.Array, target: Optional[chex.Array],
           keys: chex.Array) -> chex.Array:
    """D's input for renders `canvas` (B, H, W, C) of `target`; `keys` (B,) per example."""
    del target, keys
    return canvas

  def fake_from_items(self, items: chex.Array, keys: chex.Array) -> chex.Array:
    """D's input for replay items (see `replay_item`)."""
    del keys
    return items

  def real(self, images: chex.Array) -> chex.Array:
    """D's input for dataset images (B, H, W, C)."""
    return images

  def score(self, discriminator: "Discriminator", params, inputs: chex.Array) -> chex.Array:
    """D's scores (B,) of inputs made by `fake`, `fake_from_items` or `real`."""
    return discriminator.apply(params, inputs)


class Conditional(Unconditional):
  """D(x, target), the pair on channels (paper section 3.3); a real pair is (x, x)."""
  name = "conditional"
  conditional = True
  network_conditional = True

  def replay_channels(self, channels):
    return 2 * channels

  def replay_item(self, final, target):
    return _concat(final, target)

  def fake(self, canvas, target, keys):
    del keys
    return jnp.concatenate([canvas, target], axis=-1)

  def real(self, images):
    return jnp.concatenate([images, images], axis=-1)

  def score(self, discriminator, params, inputs):
    channels = inputs.shape[-1] // 2
    return discriminator.apply(params, inputs[..., :channels], inputs[..., channels:])


class Complement(Conditional):
  """SPIRAL++: D(mix(x, target)) for a random straight cut per example; a real image is x (a
  mix of x with itself). The network is the unconditional one."""
  name = "complement"
  network_conditional = False

  def fake(self, canvas, target, keys):
    mix = jax.vmap(lambda c, t, k: complement_mix(c[None], t[None], k)[0][0])
    return mix(canvas, target, keys)

  def fake_from_items(self, items, keys):
    channels = items.shape[-1] // 2
    return self.fake(items[..., :channels], items[..., channels:], keys)

  def real(self, images):
    return images

  def score(self, discriminator, params, inputs):
    return discriminator.apply(params, inputs)


KINDS = {k.name: k for k in (Unconditional(), Conditional(), Complement())}


def kind(name: str) -> Unconditional:
  """The discriminator kind called `name` ("unconditional", "conditional" or "complement")."""
  if name not in KINDS:
    raise ValueError(f"discriminator must be one of {tuple(KINDS)}, not {name!r}.")
  return KINDS[name]


def replay_item_shape(kind_: Unconditional, image_shape: Tuple[int, ...]) -> Tuple[int, ...]:
  """The shape of one replay item for renders of image_shape (H, W, C)."""
  return tuple(image_shape[:-1]) + (kind_.replay_channels(image_shape[-1]),)
