"""Pictures of training, with Pillow: image grids and a learning curve."""

import os

import numpy as np
from PIL import Image, ImageDraw


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
  return grid(interleaved.reshape((2 * n,) + interleaved.shape[2:]), 2 * pairs_per_row, scale)


def save_image(image, path, suffix=".png", **save_kwargs):
  """Writes a Pillow image atomically (a temporary file of the same format, then a rename)."""
  tmp = f"{path}.tmp{suffix}"
  image.save(tmp, **save_kwargs)
  os.replace(tmp, path)


def save_png(image, path):
  """Writes a uint8 image array atomically."""
  save_image(Image.fromarray(image), path)


COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75)]


def learning_curve(xs, ys, path, title="", x_label="frames", y_label="", size=(640, 400)):
  """A line plot of ys against xs, with labelled axes, as a PNG."""
  learning_curves({"": (xs, ys)}, path, title, x_label, y_label, size)


def learning_curves(series, path, title="", x_label="frames", y_label="", size=(640, 400)):
  """Several runs' curves on shared axes (paper Fig. 8): series maps a label to (xs, ys)."""
  clean = {}
  for label, (xs, ys) in series.items():
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    keep = np.isfinite(xs) & np.isfinite(ys)
    clean[label] = (xs[keep], ys[keep])
  width, height = size
  image = Image.new("RGB", size, "white")
  draw = ImageDraw.Draw(image)
  left, right, top, bottom = 70, 20, 30, 50
  draw.rectangle([left, top, width - right, height - bottom], outline="black")
  draw.text((left, 8), title, fill="black")
  draw.text(((left + width - right) // 2 - 20, height - 20), x_label, fill="black")
  draw.text((5, top - 22), y_label, fill="black")
  all_x = np.concatenate([xs for xs, _ in clean.values()] + [np.zeros(0)])
  all_y = np.concatenate([ys for _, ys in clean.values()] + [np.zeros(0)])
  if len(all_x):
    x0, x1 = float(all_x.min()), float(max(all_x.max(), all_x.min() + 1e-9))
    y0, y1 = float(min(all_y.min(), 0.0)), float(all_y.max()) * 1.05 + 1e-9
    to_px = lambda x, y: (left + (x - x0) / (x1 - x0) * (width - left - right),
                          height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom))
    for i in range(5):
      y = y0 + (y1 - y0) * i / 4
      _, py = to_px(x0, y)
      draw.line([left - 4, py, left, py], fill="black")
      draw.text((5, py - 6), f"{y:.3g}", fill="black")
      x = x0 + (x1 - x0) * i / 4
      px, _ = to_px(x, y0)
      draw.line([px, height - bottom, px, height - bottom + 4], fill="black")
      draw.text((px - 15, height - bottom + 8), f"{x:.3g}", fill="black")
    for k, (label, (xs, ys)) in enumerate(clean.items()):
      colour = COLOURS[k % len(COLOURS)]
      points = [to_px(x, y) for x, y in zip(xs, ys)]
      if len(points) > 1:
        draw.line(points, fill=colour, width=2)
      elif points:
        draw.ellipse([points[0][0] - 2, points[0][1] - 2, points[0][0] + 2, points[0][1] + 2],
                     fill=colour)
      if label:
        draw.line([width - right - 150, top + 12 + 14 * k, width - right - 130, top + 12 + 14 * k],
                  fill=colour, width=2)
        draw.text((width - right - 125, top + 6 + 14 * k), label, fill="black")
  save_image(image, path)
