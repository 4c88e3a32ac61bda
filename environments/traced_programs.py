"""Painting programs traced from a line drawing's ink: demonstrations for behaviour cloning (not in
the paper).

A digit or a character comes without the program that drew it, but its ink shows the pen's path:
thinned to a one-pixel skeleton, the skeleton's pixels form a graph whose edges can be walked as
pen-down runs (lengthened at their tips over the ink that thinning ate), and each run is cut into
the longest pieces that one quadratic Bezier stroke on the action grid follows to within a
tolerance. `trace(image, config)` writes such a program for one
picture in the painting action space (`paint_actions`): a move to each run's start, then its
strokes, then moves that stay where the brush is ("stop painting") until the episode's end. Of a
few candidate programs (tolerances x brush sizes x pressures) the expert keeps the one whose
rendering is closest to the picture in l2 (`best_programs`, rendered by the JAX renderer).

The tracing is plain numpy on the picture's pixels: Zhang-Suen thinning, a walk that carries
straight on through junctions, greedy Bezier fitting.
"""

import itertools
import os
from typing import NamedTuple
import zipfile

import jax
import numpy as np

from environments import jax_paint
from environments import paint_actions


class Shipped(NamedTuple):
  """Traced programs shipped with the package, without their targets: the pictures are the
  dataset split's, in order, at the canvas size (the caller loads them)."""
  path: str
  dataset: str
  split: str


# Traced from the shipped MNIST sample's 10,000 training digits for the main job's set-up (32x32
# canvas, 16x16 grid, 10 steps); environments/data/README.md says how.
SHIPPED = {"mnist_sample": Shipped(
    os.path.join(os.path.dirname(__file__), "data", "mnist_sample_traced.npz"), "mnist_sample",
    "train")}
_OFFSETS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))  # P2..P9


def thin(mask):
  """Zhang-Suen thinning of a boolean (H, W) image: its one-pixel-wide skeleton (bool)."""
  mask = np.asarray(mask, bool)
  if mask.ndim != 2:
    raise ValueError(f"thin takes one (H, W) image, got shape {mask.shape}.")
  img = np.pad(mask, 1).astype(np.uint8)
  h, w = mask.shape
  while True:
    changed = False
    for sub in range(2):
      p = [img[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy, dx in _OFFSETS]
      neighbours = sum(x.astype(np.int32) for x in p)
      transitions = sum(((p[k] == 0) & (p[(k + 1) % 8] == 1)).astype(np.int32) for k in range(8))
      p2, _, p4, _, p6, _, p8, _ = p
      if sub == 0:
        side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
      else:
        side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
      centre = img[1:-1, 1:-1]
      remove = (centre == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & side
      if remove.any():
        centre[remove] = 0
        changed = True
    if not changed:
      return img[1:-1, 1:-1].astype(bool)


def _graph(skeleton):
  """{pixel: set of neighbouring pixels}: 8-connected, without a diagonal link where the two
  pixels also meet through a common 4-neighbour (staircases stay chains, not triangles)."""
  pixels = set(zip(*np.nonzero(skeleton)))
  graph = {p: set() for p in pixels}
  for (y, x) in pixels:
    for dy, dx in _OFFSETS:
      q = (y + dy, x + dx)
      if q not in pixels:
        continue
      if dy and dx and ((y + dy, x) in pixels or (y, x + dx) in pixels):
        continue
      graph[(y, x)].add(q)
  return graph


def _walks(graph, min_length):
  """Pen-down runs covering the graph's edges: lists of (y, x) pixels. A run starts at the topmost
  pixel of odd degree left (else the topmost with edges left), and at a junction goes on along the
  edge that turns least."""
  left = {p: set(q) for p, q in graph.items()}
  runs = []
  while True:
    open_pixels = [p for p, q in left.items() if q]
    if not open_pixels:
      return [r for r in runs if len(r) >= min_length] or runs[:1]
    odd = [p for p in open_pixels if len(left[p]) % 2 == 1]
    here = min(odd or open_pixels)
    run = [here]
    while left[here]:
      if len(run) >= 2:
        back = np.subtract(run[-1], run[max(0, len(run) - 4)], dtype=np.float64)
        turn = lambda q: -np.dot(np.subtract(q, here), back) / (np.linalg.norm(back) + 1e-9) \
            / np.linalg.norm(np.subtract(q, here))
        nxt = min(left[here], key=lambda q: (turn(q), q))
      else:
        nxt = min(left[here])
      left[here].discard(nxt)
      left[nxt].discard(here)
      run.append(nxt)
      here = nxt
    runs.append(run)


_T = np.linspace(0.0, 1.0, 33)[:, None]


def _bezier(start, control, end):
  return (1 - _T) ** 2 * start + 2 * (1 - _T) * _T * control + _T ** 2 * end


def _fits(points, start, control, end, tolerance):
  curve = _bezier(start, control, end)
  distances = np.sqrt(((points[:, None] - curve[None]) ** 2).sum(-1)).min(1)
  return distances.max() <= tolerance


def _strokes(points, scale, grid, tolerance):
  """A run of pixels -> [(control cell, end cell)]: the longest pieces one quadratic stroke from
  the last end (on the grid) follows to within `tolerance` pixels."""
  cell = lambda p: np.clip(np.rint(np.asarray(p) / scale), 0, grid - 1)
  points = np.asarray(points, np.float64)
  strokes, i, start = [], 0, cell(points[0]) * scale
  while i < len(points) - 1:
    best = None
    for j in range(i + 1, len(points)):
      end = cell(points[j]) * scale
      middle = points[(i + j) // 2]
      control = cell(2 * middle - (start + end) / 2) * scale
      if j > i + 1 and not _fits(points[i:j + 1], start, control, end, tolerance):
        break
      best = (j, control, end)
    j, control, end = best
    strokes.append((control / scale, end / scale))
    i, start = j, end
  return strokes


def _extended(run, ink, graph, back):
  """A run whose ends are skeleton tips, lengthened along its direction over the ink that
  thinning ate from the tips, less `back` pixels."""
  h, w = ink.shape

  def grow(points):
    if len(points) < 2 or len(graph.get(points[-1], ())) != 1:
      return points
    tip = np.asarray(points[-1], np.float64)
    direction = tip - np.asarray(points[max(0, len(points) - 5)], np.float64)
    direction /= np.linalg.norm(direction)
    added = []
    for k in range(1, 2 * max(h, w)):
      y, x = np.rint(tip + k * direction).astype(int)
      if not (0 <= y < h and 0 <= x < w and ink[y, x]):
        break
      added.append((int(y), int(x)))
    return points + added[:max(0, len(added) - back)]

  return grow(grow(list(run))[::-1])[::-1]


def trace(image, config, tolerance=1.5, size=1, pressure=None, threshold=0.5, min_length=3,
          extend_back=2):
  """One picture (H, W) or (H, W, 1), ink dark on white in [0, 1], at the canvas' size -> its
  program: {component: int32 (T, ...)} for `config` (a `paint_actions.PaintConfig`, grey), and
  weights {component: float32 (T,)} (1 where the action uses the component). Runs that do not fit
  in the episode are dropped, shortest first; the tolerance grows until the strokes fit."""
  image = np.asarray(image, np.float32)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.shape != (config.canvas_size, config.canvas_size):
    raise ValueError(f"trace takes a {config.canvas_size}x{config.canvas_size} picture (the "
                     f"canvas' size), got shape {image.shape}.")
  if not config.grayscale:
    raise ValueError("trace writes programs for grey canvases (black ink).")
  pressure = config.pressure_levels - 1 if pressure is None else pressure
  scale = config.canvas_size / config.grid_size  # pixels per grid cell
  steps = config.episode_length
  ink = image < threshold
  graph = _graph(thin(ink))
  runs = [_extended(run, ink, graph, extend_back) for run in _walks(graph, min_length)]
  runs = sorted(runs, key=len, reverse=True)
  while True:
    pieces = [(run, _strokes([(x, y) for y, x in run], scale, config.grid_size, tolerance))
              for run in runs]
    if sum(1 + len(strokes) for _, strokes in pieces) <= steps:
      break
    if tolerance < 4 * scale or (len(runs) == 1 and tolerance < 2 * config.canvas_size):
      tolerance *= 1.5  # (at twice the canvas' size, any run is one stroke)
    else:
      runs = runs[:-1]  # the shortest run does not fit: dropped
  _, move, paint = paint_actions.action_masks(config)
  actions = {c: np.zeros((steps, 2) if c in paint_actions.LOCATION_COMPONENTS else (steps,),
                         np.int32) for c in config.components}
  weights = {c: np.zeros((steps,), np.float32) for c in config.components}

  def write(t, flag, end, control=None):
    actions["flag"][t] = flag
    actions["end"][t] = end
    if flag:
      actions["control"][t] = control
      actions["size"][t] = size
      actions["pressure"][t] = pressure
    for c in config.components:
      weights[c][t] = float((paint if flag else move)[c])

  t, here = 0, np.zeros(2, np.int32)
  # the runs in pen order: from the top
  for run, strokes in sorted(pieces, key=lambda piece: min(piece[0])):
    here = np.clip(np.rint(np.array(run[0][::-1]) / scale), 0, config.grid_size - 1).astype(int)
    write(t, paint_actions.MOVE, here)
    t += 1
    for control, end in strokes:
      here = end.astype(int)
      write(t, paint_actions.PAINT, here, control.astype(int))
      t += 1
  while t < steps:
    write(t, paint_actions.MOVE, here)
    t += 1
  return actions, weights


def best_programs(images, config, tolerances=(1.0, 1.5, 2.5), sizes=None, pressures=None,
                  batch_size=256, extend_back=2, trace_images=None):
  """The expert: for each picture (N, H, W, 1), of the programs `trace` writes with each
  tolerance x brush size x pressure, the one whose JAX rendering is closest in l2.
  -> (actions {component: (N, T, ...)}, weights {component: (N, T)}, renders (N, H, W, 1),
  l2 (N,)). Sizes and pressures default to all of the config's. `trace_images`: the same
  pictures at a larger size (N, S, S, 1), traced there (programs live on the grid, so they hold at
  any canvas size; a small canvas' skeleton is coarse), tolerances in the larger size's pixels."""
  images = np.asarray(images, np.float32)
  if images.ndim != 4 or images.shape[-1] != 1:
    raise ValueError(f"best_programs takes grey pictures (N, H, W, 1), got {images.shape}.")
  traced_config = config
  if trace_images is None:
    trace_images = images
  else:
    trace_images = np.asarray(trace_images, np.float32)
    if trace_images.ndim != 4 or len(trace_images) != len(images) or \
        trace_images.shape[1] != trace_images.shape[2]:
      raise ValueError(f"trace_images must be the {len(images)} pictures at one square size "
                       f"(N, S, S, 1), got {trace_images.shape}.")
    traced_config = config.scaled(trace_images.shape[1])
  sizes = range(len(config.brush_sizes)) if sizes is None else sizes
  pressures = range(config.pressure_levels) if pressures is None else pressures
  params = jax_paint.default_params(config)
  render = jax.jit(jax.vmap(lambda a: jax_paint.render_actions(a, params)))
  best = None
  for tolerance in tolerances:
    skeletons = [trace(image, traced_config, tolerance, extend_back=extend_back)
                 for image in trace_images]
    for size, pressure in itertools.product(sizes, pressures):
      programs = [_restyled(a, w, size, pressure) for a, w in skeletons]
      actions = {c: np.stack([a[c] for a, _ in programs]) for c in config.components}
      weights = {c: np.stack([w[c] for _, w in programs]) for c in config.components}
      renders = np.concatenate([
          np.asarray(render({c: v[i:i + batch_size] for c, v in actions.items()}))
          for i in range(0, len(images), batch_size)])
      l2 = ((renders - images) ** 2).mean(axis=(1, 2, 3))
      if best is None:
        best = [actions, weights, renders, l2]
        continue
      better = l2 < best[3]
      for c in config.components:
        best[0][c][better], best[1][c][better] = actions[c][better], weights[c][better]
      best[2][better], best[3][better] = renders[better], l2[better]
  return tuple(best)


def _restyled(actions, weights, size, pressure):
  """A traced program with every stroke's brush size and pressure set."""
  actions = {c: v.copy() for c, v in actions.items()}
  painted = actions["flag"] == paint_actions.PAINT
  actions["size"][painted], actions["pressure"][painted] = size, pressure
  return actions, weights


def save(path, config, actions, weights, targets=None, candidates=None):
  """Writes traced programs (`best_programs`' actions and weights) and their targets (uint8; None
  leaves them out: the reader then supplies the pictures) to a compressed .npz, with the painting
  set-up they were written for; atomically. `candidates`: (actions, weights, l2) of every action a
  search tried at each step ({component: (N, T, K, ...)}, {component: (N, T, K)}, (N, T, K);
  `spiral_jax.rollout_search`), for learning from all of them."""
  arrays = {f"action/{c}": np.asarray(v, _smallest_int(v)) for c, v in actions.items()}
  arrays.update({f"weight/{c}": np.asarray(v, np.float32) for c, v in weights.items()})
  if candidates is not None:
    tried, tried_weights, tried_l2 = candidates
    arrays.update({f"candidate_action/{c}": np.asarray(v, _smallest_int(v))
                   for c, v in tried.items()})
    arrays.update({f"candidate_weight/{c}": np.asarray(v, np.float32)
                   for c, v in tried_weights.items()})
    arrays["candidate_l2"] = np.asarray(tried_l2, np.float32)
  if targets is not None:
    arrays["targets"] = _as_uint8(targets)
  arrays["setup"] = np.asarray(_setup(config), np.int64)
  tmp = path + ".tmp.npz"
  np.savez_compressed(tmp, **arrays)
  os.replace(tmp, path)


def _as_uint8(pictures):
  """Pictures in [0, 1] as uint8 (how traced programs' targets are kept)."""
  return np.rint(np.clip(np.asarray(pictures), 0, 1) * 255).astype(np.uint8)


def _smallest_int(values):
  values = np.asarray(values)
  return np.result_type(np.min_scalar_type(values.min()), np.min_scalar_type(values.max()))


def _setup(config):
  return [config.canvas_size, config.grid_size, config.episode_length, len(config.brush_sizes),
          config.pressure_levels]


class Demonstrations:
  """Traced programs from `save`'s file for a painting config: programs(n, noise, rng) draws n at
  random: (actions, weights, played, targets), actions, weights and played {component:
  (n, T, ...)}, targets (n, H, W, 1) float32, and with `with_candidates` a fifth: the search's
  candidates for those programs (`has_candidates`), (actions, weights, l2) as `save` takes them.
  With `noise`, each stroke's end is played, with that
  probability, one cell off in a random direction (the program goes on from there). `targets`
  (N, H, W, 1) in [0, 1]: the pictures, for a file saved without them (`SHIPPED`)."""

  def __init__(self, path, config, targets=None):
    self.config = config
    try:
      with np.load(path) as f:
        arrays = {name: f[name] for name in f.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
      raise ValueError(f"Cannot read traced programs from {path}: {e}") from None
    missing = [c for c in config.components if f"action/{c}" not in arrays]
    if missing or "setup" not in arrays:
      raise ValueError(f"{path} is not a file of traced programs (write one with "
                       "`python -m experiments.trace_expert --out=...`).")
    if arrays["setup"].tolist() != _setup(config):
      raise ValueError(
          f"{path} was traced for canvas, grid, steps, sizes, pressures "
          f"{arrays['setup'].tolist()}, the config has {_setup(config)}: trace again with this "
          "config.")
    if "targets" in arrays:
      targets = arrays["targets"]
    elif targets is None:
      raise ValueError(f"{path} holds programs without their pictures: give them (targets=).")
    else:
      targets = _as_uint8(targets)
    count = len(arrays[f"action/{config.components[0]}"])
    if len(targets) != count or targets.shape[1:3] != (config.canvas_size,) * 2:
      raise ValueError(f"{path} holds {count} programs for {config.canvas_size}x"
                       f"{config.canvas_size} pictures; the pictures given are {targets.shape}.")
    self._actions = {c: arrays[f"action/{c}"].astype(np.int32) for c in config.components}
    self._weights = {c: arrays[f"weight/{c}"] for c in config.components}
    self._targets = targets
    self._candidates = None
    if "candidate_l2" in arrays:
      names = [f"candidate_{kind}/{c}" for kind in ("action", "weight")
               for c in config.components]
      if (any(name not in arrays for name in names)
          or arrays["candidate_l2"].shape[:2] != (count, config.episode_length)):
        raise ValueError(f"{path} holds incomplete search candidates: write it again with "
                         "`python -m experiments.trace_expert --expert=search --out=FILE`.")
      self._candidates = (
          {c: arrays[f"candidate_action/{c}"].astype(np.int32) for c in config.components},
          {c: arrays[f"candidate_weight/{c}"] for c in config.components},
          arrays["candidate_l2"])

  @property
  def has_candidates(self):
    """Whether the file holds a search's candidates (`trace_expert --expert=search`)."""
    return self._candidates is not None

  def __len__(self):
    return len(self._targets)

  def __call__(self, n, noise=0.0, rng=None, with_candidates=False):
    if with_candidates and not self.has_candidates:
      raise ValueError("These programs hold no search candidates: write them with "
                       "`python -m experiments.trace_expert --expert=search --out=FILE`.")
    rng = np.random.default_rng() if rng is None else rng
    index = rng.integers(len(self), size=n)
    actions = {c: v[index] for c, v in self._actions.items()}
    weights = {c: v[index] for c, v in self._weights.items()}
    played = {c: v.copy() for c, v in actions.items()}
    if noise:
      painted = actions["flag"] == paint_actions.PAINT
      off = painted & (rng.random(painted.shape) < noise)
      steps = np.array([(1, 0), (-1, 0), (0, 1), (0, -1)])[rng.integers(4, size=painted.shape)]
      played["end"] = np.where(off[..., None], np.clip(played["end"] + steps, 0,
                                                       self.config.grid_size - 1), played["end"])
    targets = self._targets[index].astype(np.float32) / 255.0
    if with_candidates:
      candidates = jax.tree.map(lambda v: v[index], self._candidates)
      return actions, weights, played, targets, candidates
    return actions, weights, played, targets

  def close(self):
    pass
