"""A small MNIST digit classifier: does a painting read as the digit it was meant to be?

`recognised` (the share of paintings classified as their target's label) is a measure a person
understands, next to the l2 distance: a painting can have a fair l2 and still be a scribble.
The same classifier scores an unconditional agent's samples.

The network is a small conv net (Haiku). It takes canvas images of any square size (white paper,
dark ink, as the agent paints them) and sees them as MNIST does (28x28, bright ink). It is trained
on the MNIST train split (`train`, or `experiments/train_classifier.py`), with small random shifts
and stroke-width changes so that it judges the shape of a digit rather than MNIST's pen; its
weights ship with the package (`spiral_jax/pretrained/mnist_classifier.npz`, with its test
accuracy) and `load()` reads them.
"""

import json
import os
from typing import Optional, Tuple

import chex
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax

from spiral_jax.data import images as images_lib

SIZE = 28  # what the network sees
NUM_CLASSES = 10
PRETRAINED_DIR = os.path.join(os.path.dirname(__file__), "pretrained")
WEIGHTS = os.path.join(PRETRAINED_DIR, "mnist_classifier.npz")


def _forward(ink: chex.Array) -> chex.Array:
  """(N, 28, 28, 1) bright-ink images in [0, 1] -> logits (N, 10)."""
  x = ink
  for channels in (32, 64):
    x = jax.nn.relu(hk.Conv2D(channels, 3)(x))
    x = jax.nn.relu(hk.Conv2D(channels, 3)(x))
    x = hk.max_pool(x, window_shape=(1, 2, 2, 1), strides=(1, 2, 2, 1), padding="SAME")
  x = jax.nn.relu(hk.Linear(128)(x.reshape(x.shape[0], -1)))
  return hk.Linear(NUM_CLASSES)(x)


_NET = hk.without_apply_rng(hk.transform(_forward))


def to_network_input(canvas: np.ndarray) -> np.ndarray:
  """Canvas images (N, S, S, 1 or 3), white paper, in [0, 1] -> (N, 28, 28, 1) bright ink."""
  canvas = np.asarray(canvas, np.float32)
  if canvas.ndim != 4 or canvas.shape[1] != canvas.shape[2]:
    raise ValueError(f"The classifier takes square canvases (N, S, S, C); got {canvas.shape}.")
  grey = canvas.mean(axis=-1, keepdims=True) if canvas.shape[-1] == 3 else canvas
  return 1.0 - images_lib.resize(grey, SIZE)


class Classifier:
  """The classifier with its parameters: `predict(canvases)` gives labels and probabilities."""

  def __init__(self, params: hk.Params, info: Optional[dict] = None):
    self.params = params
    self.info = dict(info or {})
    self._logits = jax.jit(_NET.apply)

  def probabilities(self, canvases: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """(N, 10) class probabilities of canvas images (see `to_network_input`)."""
    x = to_network_input(canvases)
    out = [np.asarray(jax.nn.softmax(self._logits(self.params, x[i:i + batch_size])))
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, NUM_CLASSES), np.float32)

  def predict(self, canvases: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(labels (N,), probabilities (N, 10))."""
    probabilities = self.probabilities(canvases)
    return probabilities.argmax(axis=-1), probabilities

  def save(self, path: str = WEIGHTS):
    """Writes the parameters (float16: a few hundred KB) and info, atomically."""
    flat = {f"{module}/{name}": np.asarray(value, np.float16)
            for module, values in self.params.items() for name, value in values.items()}
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, info=np.array(json.dumps(self.info)), **flat)
    os.replace(tmp, path)


def load(path: str = WEIGHTS) -> Classifier:
  """The shipped classifier (or one saved at `path`)."""
  if not os.path.exists(path):
    raise FileNotFoundError(f"No classifier weights at {path}: train them with "
                            "`python -m experiments.train_classifier --data_dir=MNIST_DIR`.")
  params = {}
  with np.load(path) as f:
    info = json.loads(str(f["info"]))
    for key in f.files:
      if key == "info":
        continue
      module, name = key.rsplit("/", 1)
      params.setdefault(module, {})[name] = jnp.asarray(f[key], jnp.float32)
  return Classifier(params, info)


def recognised(classifier: Classifier, canvases: np.ndarray, labels: np.ndarray) -> float:
  """The share of canvases the classifier labels as `labels`."""
  predicted, _ = classifier.predict(canvases)
  return float(np.mean(predicted == np.asarray(labels)))


def sample_quality(classifier: Classifier, canvases: np.ndarray,
                   threshold: float = 0.9) -> dict:
  """How digit-like an unconditional agent's samples are (paper Fig. 4a): `confident`, the share
  the classifier labels with probability > threshold; `class_share_0` ... `class_share_9`, the
  share of samples labelled each digit; `class_min_share`, the smallest of those (a generator that
  paints only ones scores 0); `num_images`."""
  predicted, probabilities = classifier.predict(canvases)
  shares = np.bincount(predicted, minlength=NUM_CLASSES) / max(len(predicted), 1)
  quality = {"confident": float(np.mean(probabilities.max(axis=-1) > threshold)),
             "class_min_share": float(shares.min()), "num_images": int(len(predicted))}
  quality.update({f"class_share_{c}": float(share) for c, share in enumerate(shares)})
  return quality


# Training.

def _augment(rng: np.random.Generator, ink: np.ndarray) -> np.ndarray:
  """Random shifts of up to 2 pixels and, for a third of the images each, strokes thickened or
  thinned by a 3x3 max / min filter: (N, 28, 28, 1) bright ink."""
  n = len(ink)
  padded = np.pad(ink, ((0, 0), (2, 2), (2, 2), (0, 0)))
  dy, dx = rng.integers(0, 5, n), rng.integers(0, 5, n)
  out = np.stack([padded[i, dy[i]:dy[i] + SIZE, dx[i]:dx[i] + SIZE] for i in range(n)])
  windows = np.stack([np.pad(out, ((0, 0), (1, 1), (1, 1), (0, 0)))[:, i:i + SIZE, j:j + SIZE]
                      for i in range(3) for j in range(3)])
  style = rng.integers(0, 3, n)[:, None, None, None]
  return np.where(style == 1, windows.max(axis=0), np.where(style == 2, windows.min(axis=0), out))


def train(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
          test_labels: np.ndarray, epochs: int = 4, batch_size: int = 128,
          learning_rate: float = 1e-3, seed: int = 0) -> Classifier:
  """Trains on canvas images (N, S, S, 1) with labels; `info` records the test accuracy."""
  rng = np.random.default_rng(seed)
  x_train = to_network_input(train_images)
  params = _NET.init(jax.random.PRNGKey(seed), x_train[:1])
  steps = epochs * (len(x_train) // batch_size)
  optimiser = optax.adam(optax.cosine_decay_schedule(learning_rate, steps))
  opt_state = optimiser.init(params)

  @jax.jit
  def step(params, opt_state, x, y):
    def loss_fn(p):
      logits = _NET.apply(p, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimiser.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss

  for _ in range(epochs):
    order = rng.permutation(len(x_train))
    for start in range(0, len(order) - batch_size + 1, batch_size):
      index = order[start:start + batch_size]
      params, opt_state, _ = step(params, opt_state, _augment(rng, x_train[index]),
                                  jnp.asarray(train_labels[index], jnp.int32))
  classifier = Classifier(params)
  accuracy = recognised(classifier, test_images, test_labels)
  classifier.info = {"test_accuracy": accuracy, "test_images": int(len(test_labels)),
                     "train_images": int(len(train_labels)), "epochs": epochs,
                     "canvas_size": int(train_images.shape[1])}
  return classifier

