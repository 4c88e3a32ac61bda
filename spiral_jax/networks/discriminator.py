"""The SPIRAL discriminator: a DCGAN-style conv net (paper section 3.2, appendix B).

Three uses:
  * unconditional D(x): is x a real image?
  * conditional D(x, target): the pair on channels (paper section 3.3);
  * complement (SPIRAL++): D(mix(x, target)) for a random mask: parts of the canvas spliced into
    the target look real only if the canvas reproduces the target. `complement_mix` makes the
    input; the network is the unconditional one.
Spectral normalisation (SPIRAL++) is optional: `normalize` divides every weight by its largest
singular value (one power-iteration step per call, state kept by the caller).
"""

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp

from spiral_jax.networks import conv


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
