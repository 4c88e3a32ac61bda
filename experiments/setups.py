"""Wires a run config's environment and dataset to the agent: a `spiral_jax.training.Setup`.

This is the one place that knows both `environments` and `spiral_jax`.
"""

import os

import ml_collections
import numpy as np

from experiments.configs import base
from spiral_jax import anakin
from spiral_jax import checkpoint as checkpoint_lib
from spiral_jax import pretrained
from spiral_jax import training
from spiral_jax.data import datasets
from spiral_jax.data import images as images_lib


def paint_config(env_config):
  from environments import paint_actions  # pylint: disable=import-outside-toplevel
  return paint_actions.PaintConfig(**dict(env_config["kwargs"]))  # radii become a tuple there


def scene_config(env_config):
  from environments import mujoco_scenes  # pylint: disable=import-outside-toplevel
  return mujoco_scenes.SceneConfig(**dict(env_config["kwargs"]))  # sizes become a tuple there


def make_setup(config, with_labels=False, load_data=True, in_memory=False):
  """The environment (dm_env factory and, for JAX renderers, the functional env) and data (an
  `ImageSet`: large datasets are read when drawn); with `with_labels`, (setup, the images' labels
  or None). Without `load_data` the images are one blank canvas (for painting with a trained
  agent, which needs no dataset). `in_memory` holds the images as float32, exactly as loaded
  (for evaluation on a few targets)."""
  name = config.env.name
  if name in ("jax_paint", "libmypaint"):
    from environments import jax_paint  # pylint: disable=import-outside-toplevel
    from environments import libmypaint  # pylint: disable=import-outside-toplevel
    from environments import paint_actions  # pylint: disable=import-outside-toplevel
    paint = paint_config(config.env)
    if name == "jax_paint":
      params = jax_paint.default_params(paint)
      functional = anakin.FunctionalEnv(
          reset=lambda key: jax_paint.reset(key, params),
          step=lambda key, state, action: jax_paint.step(key, state, action, params),
          episode_length=paint.episode_length,
          relaxed_step=lambda key, state, action, relaxed: jax_paint.relaxed_step(
              key, state, action, relaxed, params))
      factory = lambda: jax_paint.JaxPaint.from_config(paint)
    else:
      functional = None
      factory = lambda: libmypaint.LibMyPaint.from_config(paint)
    observation_spec = paint_actions.observation_spec(paint)
    action_spec = paint_actions.action_spec(paint)
    canvas_size, channels, episode_length = paint.canvas_size, paint.channels, paint.episode_length
  elif name == "mujoco_scenes":
    from environments import mujoco_scenes  # pylint: disable=import-outside-toplevel
    scene = scene_config(config.env)
    functional = None
    factory = lambda: mujoco_scenes.MujocoScenes.from_config(scene)
    observation_spec = mujoco_scenes.observation_spec(scene)
    action_spec = mujoco_scenes.action_spec(scene)
    canvas_size, channels, episode_length = scene.canvas_size, 3, scene.episode_length
  else:
    raise ValueError(f"Unknown environment {name!r}: known are 'jax_paint', 'libmypaint' and "
                     "'mujoco_scenes'.")
  data = config.data
  labels = None
  grayscale = channels == 1
  if not load_data:
    images = np.ones((1,) + tuple(observation_spec["canvas"].shape), np.float32)
  elif data.name == "mujoco_scenes":
    if name != "mujoco_scenes":
      raise ValueError("The 'mujoco_scenes' dataset goes with the 'mujoco_scenes' environment.")
    from environments import mujoco_scenes_dataset  # pylint: disable=import-outside-toplevel
    # the labels of a scene: its objects (with_labels), for the matching scores
    split, part = datasets.parse_split(data.split)
    if part.step is not None or (part.start or 0) < 0 or (part.stop or 0) < 0:
      raise ValueError(f"Write MuJoCo Scenes splits as 'train', 'train[A:B]' with A, B >= 0; got "
                       f"{data.split!r}.")
    start = part.start or 0
    limit = part.stop - start if part.stop is not None else None
    if data.limit:
      limit = data.limit if limit is None else min(limit, data.limit)
    if limit is not None and limit < 1:
      raise ValueError(f"Split {data.split!r} of MuJoCo Scenes holds no scenes.")
    images, labels = mujoco_scenes_dataset.load_scenes(data.data_dir or None, split, limit,
                                                       scene_config=scene,
                                                       with_objects=with_labels, start=start)
  elif in_memory:
    images, labels = datasets.load_labelled(data.name, data.data_dir or None, data.split,
                                            canvas_size, data.limit or None, grayscale)
  else:
    images, labels = datasets.open_labelled(data.name, data.data_dir or None, data.split,
                                            canvas_size, data.limit or None, grayscale)
  images = images_lib.as_image_set(images)
  if images.image_shape[-1] != channels:
    raise ValueError(f"The dataset has {images.image_shape[-1]} channels, the canvas {channels}: "
                     "use a colour environment for colour data.")
  setup = training.Setup(observation_spec=observation_spec, action_spec=action_spec,
                         episode_length=episode_length, images=images, env_factory=factory,
                         functional_env=functional)
  return (setup, labels) if with_labels else setup


def demonstrations(config, traced=None):
  """What behaviour cloning (`experiments.imitate`) needs of a run config's environment and data:
  (env_factory, programs). For MuJoCo Scenes, programs is a `ScenePrograms` (the generated
  training scenes' own programs, played through `env_factory`'s renderer); for the JAX painting
  renderer a `StrokePrograms` (random stroke programs, rendered on the device: env_factory is
  None), or with `traced` (a file of `experiments.trace_expert --out`, or the name of programs
  that ship, `traced_programs.SHIPPED`) the programs traced from its pictures
  (`traced_programs.Demonstrations`). Other set-ups raise ValueError."""
  if traced and config.env.name != "jax_paint":
    raise ValueError("Traced programs are for the JAX painting renderer (env.name 'jax_paint'); "
                     f"this run has {config.env.name!r}.")
  if config.env.name == "jax_paint":
    if traced:
      from environments import traced_programs  # pylint: disable=import-outside-toplevel
      paint = paint_config(config.env)
      shipped = traced_programs.SHIPPED.get(traced)
      if shipped is None:
        return None, traced_programs.Demonstrations(traced, paint)
      pictures, _ = datasets.load_labelled(shipped.dataset, None, shipped.split,
                                           paint.canvas_size, None, True)
      return None, traced_programs.Demonstrations(shipped.path, paint, pictures)
    return None, StrokePrograms(paint_config(config.env))
  if config.env.name != "mujoco_scenes" or config.data.name != "mujoco_scenes":
    raise ValueError("Behaviour cloning needs programs to learn from: the generated MuJoCo Scenes "
                     "dataset's (config experiments/configs/mujoco_conditional.py) or random "
                     "stroke programs for the JAX painting renderer (env.name 'jax_paint'); "
                     f"this run has {config.env.name!r} with {config.data.name!r}.")
  from environments import mujoco_scenes  # pylint: disable=import-outside-toplevel
  from environments import mujoco_scenes_dataset as dataset  # pylint: disable=import-outside-toplevel
  import dataclasses  # pylint: disable=import-outside-toplevel
  scene = scene_config(config.env)
  scene = dataclasses.replace(scene, episode_length=min(scene.episode_length,
                                                          dataset.MAX_OBJECTS + 2))
  return (lambda: mujoco_scenes.MujocoScenes.from_config(scene)), ScenePrograms(scene)


class StrokePrograms:
  """Random stroke programs for a painting config (`environments.stroke_programs`):
  programs(n, noise, rng) gives (actions, weights, played, None), actions, weights and played
  {component: (n, T, ...)}; no targets: a random program's target is what it draws."""

  def __init__(self, paint):
    self.config = paint

  def __call__(self, n, noise=0.0, rng=None):
    from environments import stroke_programs  # pylint: disable=import-outside-toplevel
    return (*stroke_programs.sample(rng, self.config, n, noise), None)

  def close(self):
    pass


class ScenePrograms:
  """The programs that draw scenes of the MuJoCo Scenes training split, and their images.

  programs(indices, noise=0, rng=None) gives (actions, weights, played, targets): actions and
  played are {component: (N, T, ...)}, weights {component: (N, T)} (1 where an action uses the
  component), targets float32 (N, W, W, 3), the scenes' images as the dataset stores them (8 bits
  per channel), each rendered once.

  Each program adds the scene's objects from the far row of the grid to the near one, left to
  right in a row, then skips (each skip's unused location drawn at random with an `rng`: see
  `_skip_at`). The episodes end after two skips (the dataset's most objects, plus
  two; `scene.episode_length` is at most that): the steps after them would show the policy the
  same canvas and previous action again. `played` is what the renderer is given: the actions
  themselves, except that with `noise` each object is, with that probability, placed with one
  attribute changed at random (a neighbouring cell, or another shape, size or colour level). The
  program then goes on with the next object, so that the policy learns to finish a scene it has
  not drawn exactly, as its own episodes are. The renderer of the targets is made on the first
  call and belongs to the thread that makes it; `close()` frees it.
  """

  def __init__(self, scene):
    from environments import scene_actions  # pylint: disable=import-outside-toplevel
    self._scene = scene
    self._actions = scene_actions
    self._skip = {"mode": scene_actions.SKIP, "shape": 0, "location": (0, 0), "size": 0,
                  "red": 0, "green": 0, "blue": 0}
    self._values = scene_actions.num_values(scene)
    self._renderer = None

  def _perturbed(self, action, rng):
    components = self._actions.COMPONENTS
    action = dict(action)
    name = components[1 + int(rng.integers(len(components) - 1))]
    if name == "location":
      x, y = action["location"]
      dx, dy = [(1, 0), (-1, 0), (0, 1), (0, -1)][int(rng.integers(4))]
      clip = lambda v: int(np.clip(v, 0, self._scene.grid_size - 1))
      action["location"] = (clip(x + dx), clip(y + dy))
    else:
      values = self._values[name]
      action[name] = int((action[name] + 1 + rng.integers(values - 1)) % values)
    return action

  def _skip_at(self, objects, rng):
    """A skip, its (unused) location a random cell or, as often, one of the scene's objects' cells
    (with an `rng`; else (0, 0)): a policy that decodes the place before the mode then learns to
    skip wherever it looks once the scene is complete, not at one cell."""
    if rng is None:
      return self._skip
    if objects and rng.random() < 0.5:
      location = objects[int(rng.integers(len(objects)))].location
    else:
      location = tuple(int(v) for v in rng.integers(self._scene.grid_size, size=2))
    return dict(self._skip, location=tuple(location))

  def __call__(self, indices, noise=0.0, rng=None):
    from environments import mujoco_scenes_dataset as dataset  # pylint: disable=import-outside-toplevel
    scene, skip = self._scene, self._skip
    if self._renderer is None:
      self._renderer = dataset.image_renderer(scene)
    episodes, played, targets = [], [], []
    for index in indices:
      objects = dataset.random_scene(dataset.scene_rng(dataset.TRAIN_SEED, int(index)), scene)
      targets.append(dataset.render_image(self._renderer, objects))
      objects = sorted(objects, key=lambda obj: (obj.location[1], obj.location[0]))
      if len(objects) > scene.episode_length:
        raise ValueError(f"Scene {index} holds {len(objects)} objects, more than the "
                         f"{scene.episode_length} steps of an episode.")
      episode = ([obj.to_action() for obj in objects] +
                 [self._skip_at(objects, rng) for _ in range(scene.episode_length - len(objects))])
      episodes.append(episode)
      played.append([self._perturbed(a, rng) if noise and a["mode"] != skip["mode"]
                     and rng.random() < noise else a for a in episode])
    stack = lambda rows, of: np.asarray([[of(step) for step in row] for row in rows])
    as_arrays = lambda rows: {name: stack(rows, lambda step: step[name]).astype(np.int32)
                              for name in self._actions.COMPONENTS}
    weights = {name: stack(episodes, lambda step: self._actions.action_mask(step)[name])
               for name in self._actions.COMPONENTS}
    return (as_arrays(episodes), weights, as_arrays(played),
            np.stack(targets).astype(np.float32) / np.float32(255.0))

  def close(self):
    if self._renderer is not None:
      self._renderer.close()
      self._renderer = None


def run_config(saved):
  """The experiment config a checkpoint's meta carries, as a ConfigDict. Runs written before a
  setting existed get today's default for it from `experiments/configs/base.py`."""
  defaults = base.get_config(saved.get("size", "small")).to_dict()
  for name in ("checkpoints_to_keep", "actor_timeout_s", "env_timeout_s", "init_from", "pbt"):
    saved.setdefault(name, defaults[name])
  return ml_collections.ConfigDict(saved)


def load_agent(agent=None, workdir=None):
  """(config as a ConfigDict, policy parameters, info) of a shipped agent (a name or an agent
  file; see `spiral_jax.pretrained`) or of a training run's newest checkpoint. info holds the
  frames trained ("frames", "updates") and, for a shipped agent, its recorded figures."""
  if bool(agent) == bool(workdir):
    raise ValueError("Give either a shipped agent (--agent=NAME) or a training run "
                     "(--workdir=DIR).")
  if agent:
    loaded = pretrained.load(agent)
    return (ml_collections.ConfigDict(loaded.config.to_dict()), loaded.params,
            dict(loaded.info, agent=loaded.name))
  config, params, meta = load_run(workdir)
  return config, params, dict(meta["counters"], workdir=workdir)


# The samples shipped with the package, by the dataset they sample: a shipped agent of that
# dataset paints them when no data directory is given (their split "test" is its held-out set).
SAMPLES = {"mnist": "mnist_sample", "omniglot": "omniglot_sample"}


def own_dataset(name):
  """The dataset a sample stands for ("mnist_sample" -> "mnist"); any other name as it is."""
  return {sample: own for own, sample in SAMPLES.items()}.get(name, name)


def needs_user_data(name):
  """Whether a shipped agent of dataset `name` (a sample's name counts as its dataset's) needs the
  user's data directory for its figures: its dataset is read from a directory and no sample of it
  ships (celeba: True; mnist, omniglot: False, their samples ship; mujoco_scenes: False, its
  scenes are generated)."""
  own = own_dataset(name)
  return own not in SAMPLES and datasets.reads_data_dir(own)


def held_out_split(config):
  """The split an agent's figures are measured on: its run config's data.test_split if it names
  one (e.g. Omniglot's held-out alphabets), else "test"."""
  return config.data.get("test_split", None) or "test"


def choose_targets(config, shipped, split=None, data_dir=None, dataset=None, renderer=None,
                   limit=0):
  """Points an agent's run config at the images to paint, in place: `split` (default: the held-out
  split, `held_out_split`) of `dataset` (default the agent's own; a shipped agent of a dataset with
  a shipped sample uses the sample's test split when no `data_dir` is given), read from `data_dir`
  if given, at most `limit` of them (0: all), rendered by `renderer` (default the agent's own)."""
  own = own_dataset(config.data.name)
  if dataset:
    config.data.name = dataset
  elif shipped and own in SAMPLES and not data_dir:
    config.data.name = SAMPLES[own]  # a shipped agent: the shipped held-out sample
  elif data_dir:
    config.data.name = own
  if not split:  # a folder has no splits: all of it
    split = ("test" if config.data.name in SAMPLES.values() else
             "all" if config.data.name == "folder" else held_out_split(config))
  config.data.split = split
  if data_dir:
    config.data.data_dir = data_dir
  if renderer:
    config.env.name = renderer
  config.data.limit = limit
  return config


def load_run(workdir, with_discriminator=False):
  """(config, policy parameters, checkpoint meta) of a training run's newest checkpoint; with
  `with_discriminator`, a fourth item: {"d_params": ..., "sn_state": ...} of its D."""
  checkpointer = checkpoint_lib.Checkpointer(os.path.join(workdir, "checkpoints"), create=False)
  try:
    state, meta = checkpointer.restore_raw()
  finally:
    checkpointer.close()
  if not meta.get("config"):
    raise checkpoint_lib.CheckpointError(f"The checkpoint in {workdir} carries no config.")
  config = run_config(dict(meta["config"]))
  learner = checkpoint_lib.learner_state_of(state)
  if with_discriminator:
    return (config, learner["policy_params"], meta,
            {"d_params": learner["d_params"], "sn_state": learner["sn_state"]})
  return config, learner["policy_params"], meta
