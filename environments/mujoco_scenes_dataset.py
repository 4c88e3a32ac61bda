"""The MuJoCo Scenes dataset: random scenes of 1-5 objects, rendered by the environment's renderer.

Each scene holds 1 to 5 objects with uniformly random shape, grid location, size and colour, placed
so that no two footprints overlap. Scene `i` of a split depends only on (split seed, i), so any
prefix of the dataset is the same whatever its length, and a generated scene can be checked
against its program by rendering it again.

  images, programs = generate(1000, seed=TRAIN_SEED)        # in memory
  builder = SpiralMujocoScenes(data_dir="~/tensorflow_datasets")   # or the tfds dataset:
  prepare(builder)                                          # 50,000 train + 1,000 test scenes
  source = builder.as_data_source(split="test")             # source[i]["image"], ["shape"], ...

Examples hold "image" (uint8 (64, 64, 3)), "num_objects", and per object slot (5 of them, zero
beyond num_objects): "shape", "location" (x, y), "size" and "colour" (r, g, b bins). `program_of`
turns an example back into the environment's actions. A 64-scene sample ships with the package
(`sample()`), for tests and demos.
"""

import dataclasses
import os

import numpy as np

from environments import mujoco_render
from environments import programs
from environments import scene_actions

MIN_OBJECTS, MAX_OBJECTS = 1, 5
TRAIN_SEED, TEST_SEED = 0, 1
SAMPLE_PATH = os.path.join(os.path.dirname(__file__), "data", "mujoco_scenes_sample.npz")
_PLACEMENT_TRIES = 100
# Builder configs: name -> (train scenes, test scenes).
SPLIT_SIZES = {"default": (50_000, 1_000), "small": (2_000, 200)}


def footprint(obj, config):
  """The radius of an object's footprint on the platform (platform units)."""
  size, _ = scene_actions.geom_extent(obj.shape, config.sizes[obj.size])
  if obj.shape == 1:  # a box's footprint reaches its corners
    return float(np.hypot(size[0], size[1]))
  return float(size[0])


def overlaps(obj, others, config):
  x, y = scene_actions.grid_to_platform(obj.location, config)
  r = footprint(obj, config)
  for other in others:
    ox, oy = scene_actions.grid_to_platform(other.location, config)
    if np.hypot(x - ox, y - oy) < r + footprint(other, config):
      return True
  return False


def random_scene(rng, config, min_objects=MIN_OBJECTS, max_objects=MAX_OBJECTS):
  """A list of non-overlapping random SceneObjects (their number uniform in [min, max])."""
  count = int(rng.integers(min_objects, max_objects + 1))
  objects = []
  while len(objects) < count:
    for _ in range(_PLACEMENT_TRIES):
      obj = scene_actions.SceneObject(
          shape=int(rng.integers(len(scene_actions.SHAPES))),
          location=tuple(int(v) for v in rng.integers(config.grid_size, size=2)),
          size=int(rng.integers(len(config.sizes))),
          colour=tuple(int(v) for v in rng.integers(config.colour_bins, size=3)))
      if not overlaps(obj, objects, config):
        objects.append(obj)
        break
    else:  # the platform is too full for one more: keep the scene as it is
      break
  return objects


def scene_rng(seed, index):
  return np.random.default_rng([int(seed), int(index)])


def objects_to_arrays(objects):
  """Fixed-size arrays of a scene's objects (zeros beyond the last)."""
  arrays = {"num_objects": np.int32(len(objects)),
            "shape": np.zeros(MAX_OBJECTS, np.int32),
            "location": np.zeros((MAX_OBJECTS, 2), np.int32),
            "size": np.zeros(MAX_OBJECTS, np.int32),
            "colour": np.zeros((MAX_OBJECTS, 3), np.int32)}
  for i, obj in enumerate(objects):
    arrays["shape"][i] = obj.shape
    arrays["location"][i] = obj.location
    arrays["size"][i] = obj.size
    arrays["colour"][i] = obj.colour
  return arrays


def arrays_to_objects(example):
  return [scene_actions.SceneObject(int(example["shape"][i]),
                                    tuple(int(v) for v in example["location"][i]),
                                    int(example["size"][i]),
                                    tuple(int(v) for v in example["colour"][i]))
          for i in range(int(example["num_objects"]))]


def program_of(example, config=None):
  """The environment's program (one `add` action per object) that draws a dataset example."""
  config = config or scene_actions.SceneConfig()
  return programs.SceneProgram(config, [obj.to_action() for obj in arrays_to_objects(example)])


def image_renderer(config):
  """The renderer of the dataset's images (a SceneRenderer holding the most objects a scene has)."""
  return mujoco_render.SceneRenderer(config, max_objects=MAX_OBJECTS)


def render_image(renderer, objects):
  """A scene's image as the dataset stores it: uint8 (W, W, 3)."""
  return np.round(renderer.render(objects) * 255).astype(np.uint8)


def examples(num, seed, config=None, start=0):
  """Yields (index, example dict) for scenes start .. start + num - 1 of the split `seed`."""
  config = config or scene_actions.SceneConfig()
  renderer = image_renderer(config)
  try:
    for index in range(start, start + num):
      objects = random_scene(scene_rng(seed, index), config)
      yield index, dict(objects_to_arrays(objects), image=render_image(renderer, objects))
  finally:
    renderer.close()


def generate(num, seed=TRAIN_SEED, config=None, start=0):
  """(images uint8 (num, W, W, 3), programs: dict of stacked arrays) of a split, in memory."""
  rows = [example for _, example in examples(num, seed, config, start)]
  if not rows:
    raise ValueError(f"generate needs num >= 1, got {num}.")
  images = np.stack([r.pop("image") for r in rows])
  return images, {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def sample():
  """The shipped 64-scene sample (from the test split): (images uint8, programs)."""
  with np.load(SAMPLE_PATH) as data:
    arrays = {k: data[k] for k in data.files}
  return arrays.pop("image"), arrays


def write_sample(path=SAMPLE_PATH, num=64):
  images, programs = generate(num, seed=TEST_SEED)
  tmp = f"{path}.tmp.npz"
  np.savez_compressed(tmp, image=images, **programs)
  os.replace(tmp, path)


# tensorflow-datasets builder (array_record; no TensorFlow, no network).

try:
  import tensorflow_datasets as tfds
except ImportError:  # pragma: no cover - the builder needs tensorflow-datasets; generate() does not
  tfds = None

if tfds is not None:
  import tfds_local  # pylint: disable=g-import-not-at-top

  @dataclasses.dataclass
  class ScenesBuilderConfig(tfds.core.BuilderConfig):
    num_train: int = SPLIT_SIZES["default"][0]
    num_test: int = SPLIT_SIZES["default"][1]

  class SpiralMujocoScenes(tfds_local.ArrayRecordByDefault,
                           tfds.core.GeneratorBasedBuilder):
    """MuJoCo Scenes images and their ground-truth programs, generated and rendered here.

    Configs: "default" (50,000 train, 1,000 test scenes) and "small" (2,000 / 200).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "1-5 non-overlapping objects per scene, 64x64."}
    BUILDER_CONFIGS = [ScenesBuilderConfig(name=name, num_train=train, num_test=test)
                       for name, (train, test) in SPLIT_SIZES.items()]
    SCENE = scene_actions.SceneConfig()

    def _info(self):
      w = self.SCENE.canvas_size
      tensor = lambda shape: tfds.features.Tensor(shape=shape, dtype=np.int32)
      return self.dataset_info_from_configs(
          features=tfds.features.FeaturesDict({
              "image": tfds_local.image_feature((w, w, 3)),
              "num_objects": tensor(()),
              "shape": tensor((MAX_OBJECTS,)),
              "location": tensor((MAX_OBJECTS, 2)),
              "size": tensor((MAX_OBJECTS,)),
              "colour": tensor((MAX_OBJECTS, 3)),
          }),
          disable_shuffling=True,  # example i is scene i of its split
          license="Apache-2.0")

    def _split_generators(self, dl_manager):
      del dl_manager  # everything is generated
      return {"train": examples(self.builder_config.num_train, TRAIN_SEED, self.SCENE),
              "test": examples(self.builder_config.num_test, TEST_SEED, self.SCENE)}

    def _generate_examples(self):  # pragma: no cover - _split_generators yields directly
      raise NotImplementedError


def _require_tfds():
  if tfds is None:
    raise ImportError("The MuJoCo Scenes tfds builder needs tensorflow-datasets: "
                      "pip install tensorflow-datasets importlib_resources.")


def prepare(builder):
  """Generates and writes the dataset (offline; a no-op when already built)."""
  _require_tfds()
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(try_download_gcs=False))
  return builder


def load_images(data_dir=None, split="train", limit=None, config_name="default",
                scene_config=None):
  """A split's images as float32 (N, W, W, 3) in [0, 1].

  Without data_dir the first `limit` scenes (default: the split's size in builder config
  `config_name`) are generated in memory, with `scene_config` (default: the paper's). With one,
  the tfds dataset (the paper's scene config) is built there once and read back. Both give the
  same images for the same scene config.
  """
  return load_scenes(data_dir, split, limit, config_name, scene_config, with_objects=False)[0]


def load_scenes(data_dir=None, split="train", limit=None, config_name="default",
                scene_config=None, with_objects=True, start=0):
  """(images as `load_images` gives them, each scene's list of `SceneObject`s (None without
  `with_objects`)), of the split's scenes from index `start` on (at most `limit` of them): a
  validation set can be scenes of the train split that training never reaches."""
  scene_config = scene_config or scene_actions.SceneConfig()
  if config_name not in SPLIT_SIZES or split not in ("train", "test"):
    raise ValueError(f"MuJoCo Scenes has configs {sorted(SPLIT_SIZES)} and splits train and test; "
                     f"got config {config_name!r}, split {split!r}.")
  size = SPLIT_SIZES[config_name][0 if split == "train" else 1]
  if not 0 <= start < size:
    raise ValueError(f"The {split} split of MuJoCo Scenes ({config_name}) holds scenes 0 to "
                     f"{size - 1}; cannot start at scene {start}.")
  count = size - start if not limit else min(limit, size - start)
  if not data_dir:
    seed = TRAIN_SEED if split == "train" else TEST_SEED
    images, arrays = generate(count, seed=seed, config=scene_config, start=start)
    scenes = [arrays_to_objects({k: v[i] for k, v in arrays.items()})
              for i in range(len(images))] if with_objects else None
    return images.astype(np.float32) / 255.0, scenes
  if scene_config != SpiralMujocoScenes.SCENE:
    raise ValueError(f"The tfds MuJoCo Scenes dataset holds scenes of {SpiralMujocoScenes.SCENE}; "
                     f"this run's environment is {scene_config}. Leave data_dir empty to generate "
                     "matching scenes in memory.")
  builder = prepare(SpiralMujocoScenes(data_dir=os.path.expanduser(data_dir),
                                       config=config_name))
  if not with_objects and not start:
    return tfds_local.read_images(builder, split, limit).astype(np.float32) / 255.0, None
  source = builder.as_data_source(split=split)
  rows = source.__getitems__(list(range(start, start + count)))
  images = np.stack([r["image"] for r in rows]).astype(np.float32) / 255.0
  return images, [arrays_to_objects(r) for r in rows] if with_objects else None
