"""Pictures of training: image grids (Pillow) and learning curves (matplotlib)."""

import os

import numpy as np
from PIL import Image


def to_uint8(images):
  """Float images in [0, 1] (..., H, W, C) with C in {1, 3} -> uint8 RGB (..., H, W, 3)."""
  images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  return np.round(images * 255).astype(np.uint8)


def grid(images, columns, scale=1, pad=2):
  """A (N, H, W, C) batch as one RGB uint8 image of `columns` columns, light grey gaps."""
  images = to_uint8(images)
  n, h, w, _ = images.shape
  rows = -(-n // columns)
  out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), 200, np.uint8)
  for i, image in enumerate(images):
    r, c = divmod(i, columns)
    out[pad + r * (h + pad):pad + r * (h + pad) + h,
        pad + c * (w + pad):pad + c * (w + pad) + w] = image
  if scale > 1:
    out = np.kron(out, np.ones((scale, scale, 1), np.uint8))
  return out


def reconstructions(targets, renders, pairs_per_row=8, scale=2):
  """Targets and the agent's renders side by side: each pair is target | render."""
  n = min(len(targets), len(renders))
  interleaved = np.stack([np.asarray(targets[:n]), np.asarray(renders[:n])], axis=1)
  columns = 2 * min(pairs_per_row, max(n, 1))  # one pair is one row of two, not of 16
  return grid(interleaved.reshape((2 * n,) + interleaved.shape[2:]), columns, scale)


def save_image(image, path, suffix=".png", **save_kwargs):
  """Writes a Pillow image atomically (a temporary file of the same format, then a rename)."""
  tmp = f"{path}.tmp{suffix}"
  image.save(tmp, **save_kwargs)
  os.replace(tmp, path)


def save_png(image, path):
  """Writes a uint8 image array atomically."""
  save_image(Image.fromarray(image), path)


# matplotlib's default cycle (tab10), as RGB: the k-th run of a plot is drawn in COLOURS[k].
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def smoothed(values, window):
  """Each value replaced by the mean of the last `window` values up to it (fewer at the start)."""
  values = np.asarray(values, np.float64)
  if window < 1:
    raise ValueError(f"The smoothing window must be at least 1, not {window}.")
  sums = np.cumsum(np.concatenate([[0.0], values]))
  index = np.arange(1, len(values) + 1)
  counts = np.minimum(index, window)
  return (sums[index] - sums[index - counts]) / counts


def learning_curve(xs, ys, path, title="", x_label="frames", y_label="", seconds=None,
                   smooth=None):
  """One run's curve as a PNG (see `learning_curves`)."""
  series = {"": (xs, ys) if seconds is None else (xs, ys, seconds)}
  learning_curves(series, path, title, x_label, y_label, smooth)


def learning_curves(series, path, title="", x_label="frames", y_label="", smooth=None):
  """Several runs' curves on shared axes (paper Fig. 8), drawn with matplotlib, as a PNG.

  series maps a label to (xs, ys) or (xs, ys, seconds): seconds are each point's wall time, and
  when any run has them a second panel shows ys against wall time. Each run's raw values are a
  faint line with the smoothed one over them: the mean of the last `smooth` values (default: about
  a twentieth of the run's points; 1 draws the raw line alone). Large x values read as 1.5M.
  """
  from matplotlib import ticker  # pylint: disable=import-outside-toplevel
  from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
  clean = {}
  for label, values in series.items():
    columns = [np.asarray(v, np.float64) for v in values]
    keep = np.logical_and.reduce([np.isfinite(c) for c in columns[:2]])
    clean[label] = [c[keep] for c in columns]
  timed = any(len(c) == 3 for c in clean.values())
  figure = Figure(figsize=(11 if timed else 6.4, 4.2), dpi=100, layout="constrained")
  axes = figure.subplots(1, 2 if timed else 1, squeeze=False, sharey=True)[0]
  for k, (label, columns) in enumerate(clean.items()):
    xs, ys = columns[:2]
    colour = np.asarray(COLOURS[k % len(COLOURS)]) / 255.0
    window = smooth if smooth else max(1, len(ys) // 20)
    panels = [(axes[0], xs)]
    if timed and len(columns) == 3:
      hours = columns[2].max(initial=0.0) > 2 * 3600
      panels.append((axes[1], columns[2] / (3600.0 if hours else 60.0)))
      axes[1].set_xlabel("wall time (hours)" if hours else "wall time (minutes)")
    for axis, x in panels:
      if len(x) == 1:
        axis.plot(x, ys, "o", color=colour, label=label or None)
        continue
      if window > 1:
        axis.plot(x, ys, color=colour, alpha=0.25, linewidth=1)
      axis.plot(x, smoothed(ys, window), color=colour, linewidth=2, label=label or None)
  for axis in axes:
    axis.grid(True, alpha=0.3)
    axis.set_ylabel(y_label)
    if any(label for label in clean):
      axis.legend(loc="best", fontsize="small")
  axes[0].set_xlabel(x_label)
  axes[0].xaxis.set_major_formatter(ticker.EngFormatter(sep=""))
  figure.suptitle(title)
  tmp = f"{path}.tmp.png"
  figure.savefig(tmp, format="png")
  os.replace(tmp, path)
