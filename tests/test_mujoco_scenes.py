"""The MuJoCo Scenes environment, its dataset and the blocked Metropolis-Hastings baseline."""

import json
import os
import subprocess
import sys

from absl.testing import absltest
from absl.testing import parameterized
from dm_env import test_utils
import numpy as np
from PIL import Image

from environments import mujoco_render
from environments import mujoco_scenes as ms
from environments import mujoco_scenes_dataset as ds
from environments import programs
from environments import scene_actions
from environments import scene_matching
from experiments.configs import mujoco_long

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add(shape=0, location=(8, 8), size=2, colour=(3, 0, 0), mode=ms.ADD):
  return {"mode": mode, "shape": shape, "location": location, "size": size,
          "red": colour[0], "green": colour[1], "blue": colour[2]}


class EnvironmentConformanceTest(test_utils.EnvironmentTestMixin, absltest.TestCase):

  def make_object_under_test(self):
    return ms.MujocoScenes()


class RenderTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.env = ms.MujocoScenes()
    cls.renderer = ms.SceneRenderer(ms.SceneConfig())
    cls.empty = cls.renderer.render([])

  @classmethod
  def tearDownClass(cls):
    cls.env.close()
    cls.renderer.close()
    super().tearDownClass()

  @parameterized.parameters(((1, 1), (3, 0, 0)), ((14, 1), (0, 3, 0)), ((1, 14), (0, 0, 3)),
                            ((14, 14), (3, 3, 0)), ((8, 5), (3, 0, 3)))
  def test_object_appears_at_its_cell_in_its_colour(self, location, colour):
    self.env.reset()
    canvas = self.env.step(add(0, location, 1, colour)).observation["canvas"]
    changed = np.abs(canvas - self.empty).max(-1) > 0.05
    self.assertGreater(changed.sum(), 10)
    x, y = ms.grid_to_platform(location, self.env.config)
    col, row = self.renderer.project((x, y, self.env.config.sizes[1]))
    rows, cols = np.nonzero(changed)
    # The object's pixels are centred on its cell's projection ...
    self.assertLess(abs(cols.mean() - col), 2.0)
    self.assertLess(abs(rows.mean() - row), 2.5)
    # ... and have its colour: the channels it has are bright, the others dark.
    mean = canvas[changed].mean(0)
    for channel, level in enumerate(colour):
      if level:
        self.assertGreater(mean[channel], 0.4)
      else:
        self.assertLess(mean[channel], 0.15)

  def test_grid_x_runs_left_to_right_and_y_far_to_near(self):
    cols = [self.renderer.project((*ms.grid_to_platform((x, 8), self.env.config), 0))[0]
            for x in (0, 8, 15)]
    rows = [self.renderer.project((*ms.grid_to_platform((8, y), self.env.config), 0))[1]
            for y in (0, 8, 15)]
    self.assertEqual(cols, sorted(cols))
    self.assertEqual(rows, sorted(rows))

  def test_the_grid_homography_finds_each_cells_object(self):
    homography = self.renderer.grid_homography()
    # The scene configs' constant (the glimpse's) is this renderer's.
    np.testing.assert_allclose(np.reshape(mujoco_long.GRID_HOMOGRAPHY, (3, 3)), homography,
                               atol=1e-4)
    for location in ((0, 0), (15, 0), (7, 9), (15, 15)):
      canvas = self.renderer.render([ms.SceneObject(0, location, 1, (3, 0, 0))])
      rows, cols = np.nonzero(np.abs(canvas - self.empty).max(-1) > 0.05)
      col, row, scale = homography @ (location[0] + 0.5, location[1] + 0.5, 1.0)
      # pixel i spans [i, i + 1): its centre is i + 0.5
      self.assertLess(abs(cols.mean() + 0.5 - col / scale), 1.0)
      self.assertLess(abs(rows.mean() + 0.5 - row / scale), 1.5)

  def test_each_shape_and_size_draws_differently(self):
    renders = [self.renderer.render([ms.SceneObject(shape, (8, 8), size, (0, 0, 3))])
               for shape in range(4) for size in range(3)]
    for i in range(len(renders)):
      for j in range(i):
        self.assertGreater(np.abs(renders[i] - renders[j]).sum(), 1.0)
    # Bigger objects cover more pixels.
    covered = [(np.abs(r - self.empty).max(-1) > 0.05).sum() for r in renders]
    for shape in range(4):
      self.assertLess(covered[3 * shape], covered[3 * shape + 1])
      self.assertLess(covered[3 * shape + 1], covered[3 * shape + 2])

  def test_change_alters_the_last_object_only(self):
    first, second, changed = add(1, (3, 3), 1, (0, 3, 0)), add(0, (12, 10)), add(2, (6, 12))
    self.env.reset()
    self.env.step(first)
    self.env.step(second)
    timestep = self.env.step(dict(changed, mode=ms.CHANGE))
    self.assertEqual(int(timestep.observation["num_objects"]), 2)
    expected = self.renderer.render([ms.SceneObject.from_action(first),
                                     ms.SceneObject.from_action(changed)])
    np.testing.assert_array_equal(timestep.observation["canvas"], expected)
    # A change before any object is added changes nothing.
    self.env.reset()
    timestep = self.env.step(dict(changed, mode=ms.CHANGE))
    np.testing.assert_array_equal(timestep.observation["canvas"], self.empty)
    self.assertEqual(int(timestep.observation["num_objects"]), 0)

  def test_skip_changes_nothing(self):
    self.env.reset()
    before = self.env.step(add()).observation["canvas"]
    timestep = self.env.step(add(3, (1, 1), 0, (0, 3, 3), mode=ms.SKIP))
    np.testing.assert_array_equal(timestep.observation["canvas"], before)
    self.assertEqual(int(timestep.observation["num_objects"]), 1)
    mask = timestep.observation["action_mask"]
    self.assertEqual({k for k, v in mask.items() if v}, {"mode"})

  def test_bad_actions_name_the_component(self):
    self.env.reset()
    for action, pattern in [(dict(add(), location=(16, 0)), "'location'.*off the 16x16 grid"),
                            (dict(add(), shape=4), "'shape' must be in \\[0, 3\\]"),
                            (dict(add(), red=-1), "'red' must be in \\[0, 3\\]"),
                            (dict(add(), mode=3), "'mode'"),
                            (dict(add(), size=1.5), "'size' must be an integer"),
                            ({k: v for k, v in add().items() if k != "blue"}, "missing \\['blue'\\]")]:
      with self.assertRaisesRegex(ValueError, pattern):
        self.env.step(action)
    self.assertEqual(len(self.env.program.actions), 0)  # nothing half-done

  def test_episode_has_twenty_steps_and_the_program_rerenders_at_any_size(self):
    env = ms.MujocoScenes()
    rng = np.random.default_rng(3)
    timestep = env.reset()
    steps = 0
    while not timestep.last():
      timestep = env.step(add(int(rng.integers(4)), tuple(rng.integers(16, size=2)),
                              int(rng.integers(3)), tuple(rng.integers(4, size=3)),
                              mode=int(rng.integers(3))))
      steps += 1
    self.assertEqual(steps, 20)
    program = ms.Program.from_json(env.program.to_json())
    self.assertEqual(program.actions, env.program.actions)
    np.testing.assert_array_equal(ms.render_program(program), timestep.observation["canvas"])
    big = ms.render_program(program, canvas_size=128)
    self.assertEqual(big.shape, (128, 128, 3))
    small = big.reshape(64, 2, 64, 2, 3).mean((1, 3))
    self.assertLess(np.abs(small - timestep.observation["canvas"]).mean(), 0.03)
    env.close()
    with self.assertRaisesRegex(ValueError, "Not a MuJoCo Scenes program"):
      ms.Program.from_json(json.dumps({"config": {}, "actions": [{"mode": 0}]}))


class BackendTest(absltest.TestCase):

  @absltest.skipIf(os.environ.get("DISPLAY"), "a display is available: GLFW would work")
  def test_unusable_backend_names_the_fix(self):
    code = ("from environments import mujoco_scenes as ms\n"
            "try:\n  ms.MujocoScenes()\nexcept ms.BackendError as e:\n  print('ERROR', e)\n")
    env = dict(os.environ, MUJOCO_GL="glfw")
    env.pop("PYOPENGL_PLATFORM", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120).stdout
    self.assertIn("ERROR", out)
    self.assertIn("MUJOCO_GL=osmesa", out)
    self.assertIn("libosmesa6", out)


class DatasetTest(absltest.TestCase):

  def test_scenes_are_deterministic_by_seed_and_index(self):
    images, programs = ds.generate(12, seed=5)
    again, programs_again = ds.generate(4, seed=5, start=8)
    np.testing.assert_array_equal(images[8:], again)
    np.testing.assert_array_equal(programs["location"][8:], programs_again["location"])
    other, _ = ds.generate(12, seed=6)
    self.assertFalse(np.array_equal(images, other))

  def test_a_sliced_split_holds_the_scenes_from_its_start(self):
    from experiments import setups  # pylint: disable=g-import-not-at-top
    from experiments.configs import mujoco_conditional  # pylint: disable=g-import-not-at-top
    config = mujoco_conditional.get_config("small")
    scene = setups.scene_config(config.env)
    whole, objects = ds.load_scenes(split="train", limit=7, scene_config=scene)
    config.data.split = "train[4:7]"
    setup, labels = setups.make_setup(config, with_labels=True, in_memory=True)
    np.testing.assert_array_equal(setup.images.first(3), whole[4:7])
    self.assertEqual(labels, objects[4:7])
    config.data.limit = 2  # the config's limit caps a slice too
    self.assertLen(setups.make_setup(config, in_memory=True).images, 2)
    for bad, message in (("train[5:5]", "holds no scenes"), ("train[-3:]", "A, B >= 0"),
                         ("train[60000:]", "cannot start at scene 60000")):
      config.data.split = bad
      with self.assertRaisesRegex(ValueError, message):
        setups.make_setup(config, in_memory=True)

  def test_scenes_hold_one_to_five_objects_without_overlaps(self):
    config = ms.SceneConfig()
    counts = []
    for i in range(200):
      objects = ds.random_scene(ds.scene_rng(0, i), config)
      counts.append(len(objects))
      for j, obj in enumerate(objects):
        self.assertFalse(ds.overlaps(obj, objects[:j], config))
    self.assertEqual(set(counts), {1, 2, 3, 4, 5})

  def test_programs_reproduce_their_images(self):
    images, programs = ds.sample()
    self.assertEqual(images.shape, (64, 64, 64, 3))
    env = ms.MujocoScenes()
    for i in range(6):
      example = {k: v[i] for k, v in programs.items()}
      env.reset()
      timestep = None
      for action in ds.program_of(example).actions:
        timestep = env.step(action)
      rendered = np.round(timestep.observation["canvas"] * 255)
      # The sample may come from another OSMesa build than this one: allow rounding noise.
      self.assertLess(np.abs(rendered - images[i]).mean(), 1.0)
    env.close()
    regenerated, regenerated_programs = ds.generate(8, seed=ds.TEST_SEED)
    for k, v in regenerated_programs.items():
      np.testing.assert_array_equal(v, programs[k][:8])

  def test_tfds_builder_writes_the_generated_scenes(self):
    config = ds.ScenesBuilderConfig(name="tiny", num_train=6, num_test=3)
    builder = ds.SpiralMujocoScenes(data_dir=self.create_tempdir().full_path, config=config)
    ds.prepare(builder)
    source = builder.as_data_source(split="test")
    self.assertLen(source, 3)
    images, programs = ds.generate(3, seed=ds.TEST_SEED)
    for i in range(3):
      np.testing.assert_array_equal(source[i]["image"], images[i])
      np.testing.assert_array_equal(source[i]["location"], programs["location"][i])
      self.assertEqual(int(source[i]["num_objects"]), int(programs["num_objects"][i]))
    with self.assertRaisesRegex(ValueError, "splits train and test"):
      ds.load_images(split="validation")


class McmcScriptTest(absltest.TestCase):
  """`python -m experiments.mcmc` on budgets below one SPIRAL pass, and with none."""

  def run_script(self, *args):
    return subprocess.run([sys.executable, "-m", "experiments.mcmc", *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))

  def test_short_budget_reports_no_20_call_figure(self):
    mcmc_dir = self.create_tempdir().full_path
    result = self.run_script("--calls=5", "--num_scenes=2", f"--mcmc_dir={mcmc_dir}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertEqual((summary["renderer_calls"], summary["num_scenes"]), (5, 2))
    self.assertNotIn("mcmc_l2_at_20_calls", summary)
    from spiral_jax import mcmc  # pylint: disable=g-import-not-at-top
    record = mcmc.load_curve_record(os.path.join(mcmc_dir, mcmc.RECORD_FILE))
    self.assertEqual(record["num_scenes"], 2)
    self.assertFalse([f for f in os.listdir(mcmc_dir) if f.endswith(".tmp")])

  def test_no_budget_is_one_clear_error(self):
    result = self.run_script("--calls=0", f"--mcmc_dir={self.create_tempdir().full_path}")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("--calls and --num_scenes must be at least 1", result.stderr)
    self.assertNotIn("Traceback", result.stderr)


class MatchingTest(absltest.TestCase):
  """Predicted objects matched to true ones: count and attribute accuracies."""

  def test_a_perfect_scene_a_shuffled_one_and_wrong_ones(self):
    config = scene_actions.SceneConfig()
    true = ds.arrays_to_objects({k: v[3] for k, v in ds.sample()[1].items()})
    while len(true) < 3:  # a scene with several objects
      true = true + [scene_actions.SceneObject(1, (len(true), 0), 0, (0, 1, 2))]
    self.assertEqual(scene_matching.score_scenes([true], [true], config)["object_accuracy"], 1.0)
    shuffled = list(reversed(true))  # order does not matter: matching is by position
    perfect = scene_matching.score_scenes([shuffled], [true], config)
    self.assertEqual((perfect["count_accuracy"], perfect["object_accuracy"]), (1.0, 1.0))
    first = true[0]
    recoloured = [scene_actions.SceneObject(first.shape, first.location, first.size,
                                            tuple((c + 1) % 4 for c in first.colour))] + true[1:]
    scores = scene_matching.score_scenes([recoloured], [true], config)
    n = len(true)
    self.assertAlmostEqual(scores["object_accuracy"], (n - 1) / n)
    self.assertAlmostEqual(scores["colour_accuracy"], (n - 1) / n)
    self.assertEqual((scores["shape_accuracy"], scores["cell_accuracy"]), (1.0, 1.0))
    missing = scene_matching.score_scenes([true[1:], []], [true, true], config)
    self.assertEqual(missing["count_accuracy"], 0.0)  # an object short, and an empty scene
    self.assertAlmostEqual(missing["object_accuracy"], (n - 1) / (2 * n))
    moved = [scene_actions.SceneObject(o.shape, (o.location[0], (o.location[1] + 1) % 16), o.size,
                                       o.colour) for o in true]
    self.assertLess(scene_matching.score_scenes([moved], [true], config)["cell_accuracy"], 1.0)
    with self.assertRaisesRegex(ValueError, "1 predicted scenes for 2"):
      scene_matching.score_scenes([true], [true, true], config)

  def test_visible_pixels_and_unmatched_objects(self):
    config = scene_actions.SceneConfig(canvas_size=32, grid_size=8)
    renderer = mujoco_render.SceneRenderer(config, max_objects=3)
    try:
      box = scene_actions.SceneObject(0, (2, 3), 2, (3, 0, 0))
      other = scene_actions.SceneObject(1, (6, 5), 1, (0, 3, 0))
      alone = scene_matching.visible_pixels(renderer, [other])
      empty = renderer.render([])
      self.assertEqual(alone, [int((np.abs(renderer.render([other]) - empty).max(-1)
                                    > 0.02).sum())])
      self.assertGreater(alone[0], 0)
      # An object exactly under another shows nowhere: taking either away changes nothing.
      visible = scene_matching.visible_pixels(renderer, [box, box, other])
      self.assertEqual(visible[:2], [0, 0])
      self.assertGreater(visible[2], 0)
    finally:
      renderer.close()
    self.assertEqual(scene_matching.unmatched([other], [box, other], config), [0])
    self.assertEqual(scene_matching.unmatched([box, other], [box, other], config), [])
    self.assertEqual(scene_matching.unmatched([], [box], config), [0])


class AgentTest(absltest.TestCase):
  """The agent drives MuJoCo Scenes from its specs alone: no agent code knows this renderer."""

  def test_policy_samples_valid_actions_for_the_paper_spec(self):
    import jax  # pylint: disable=g-import-not-at-top
    from spiral_jax.networks import policy as policy_lib  # pylint: disable=g-import-not-at-top
    env = ms.MujocoScenes()
    policy = policy_lib.Policy(env.observation_spec(), env.action_spec(), policy_lib.SMALL,
                               conditional=True)
    params = policy.init(jax.random.PRNGKey(0))
    timestep = env.reset()
    state = policy.initial_state(1)
    prev = policy.zero_action((1,))
    target = ds.sample()[0][:1].astype(np.float32) / 255
    for t in range(5):
      observation = jax.tree.map(lambda x: np.asarray(x)[None], timestep.observation)
      inputs = policy.inputs(observation, prev, np.array([t == 0]), target)
      actions, _, state = policy.step(params, jax.random.PRNGKey(t), inputs, state)
      action = {k: np.asarray(v)[0] for k, v in actions.items()}
      timestep = env.step(action)  # validates every component against the spec
      prev = actions
    env.close()

  def test_short_conditional_training_run(self):
    from experiments import setups  # pylint: disable=g-import-not-at-top
    from experiments.configs import mujoco_conditional  # pylint: disable=g-import-not-at-top
    from spiral_jax import metrics  # pylint: disable=g-import-not-at-top
    from spiral_jax import training  # pylint: disable=g-import-not-at-top
    config = mujoco_conditional.get_config("small")
    config.num_actors = 0  # the learner runs the episodes itself
    config.envs_per_actor = 8  # one batch of episodes per update
    config.data.limit = 64
    config.learner.batch_size = 8
    config.max_updates = 4
    config.max_minutes = 0
    config.log_every_updates = 1
    config.progress = False
    config.picture_every_minutes = 0
    workdir = self.create_tempdir().full_path
    summary = training.run(config, setups.make_setup(config), workdir, resume=False)
    self.assertEqual(summary["updates"], 4)
    records = metrics.read_jsonl(os.path.join(workdir, "metrics.jsonl"))
    self.assertTrue(all(np.isfinite(r["policy_loss"]) and np.isfinite(r["d_loss"])
                        for r in records))
    self.assertEqual(records[-1]["frames"], 4 * 8 * config.env.kwargs.episode_length)
    # Evaluation scores the rebuilt scenes against the held-out ones (test split).
    from experiments import measure  # pylint: disable=g-import-not-at-top
    scores, renders, _ = measure.evaluate(workdir, num_images=4, batch_size=4)
    self.assertEqual(renders.shape[0], 4)
    for name in ("l2_mean", "count_accuracy", "object_accuracy", "shape_accuracy",
                 "cell_accuracy"):
      self.assertTrue(0.0 <= scores[name] <= 1.0, name)
    self.assertEqual(scores["num_scenes"], 4)
    # The MCMC script compares the trained agent with the chains on the same held-out scenes.
    from absl.testing import flagsaver  # pylint: disable=g-import-not-at-top
    from experiments import mcmc as mcmc_script  # pylint: disable=g-import-not-at-top
    mcmc_dir = self.create_tempdir().full_path
    with flagsaver.flagsaver(mcmc_dir=mcmc_dir, agent=workdir, num_scenes=2, calls=5000):
      mcmc_script.main([])
    self.assertTrue(os.path.exists(os.path.join(mcmc_dir, "fig9.png")))
    history = metrics.read_jsonl(os.path.join(mcmc_dir, "metrics.jsonl"))
    self.assertEqual((history[0]["frames"], history[-1]["frames"]), (1, 5000))
    # Evaluate reports MCMC's l2 after 5,000 calls from the chains' record, on the same scenes
    # only.
    scores, _, _ = measure.evaluate(workdir, num_images=2, batch_size=2, mcmc_dir=mcmc_dir)
    self.assertEqual(scores["mcmc_l2_5000"], history[-1]["l2"])
    with self.assertRaisesRegex(ValueError, "ran on test\\[:2\\] of other scenes"):
      measure.evaluate(workdir, num_images=3, batch_size=3, mcmc_dir=mcmc_dir)
    # `paint` rebuilds a scene image as a scene program, which re-renders at any size.
    image_path = os.path.join(mcmc_dir, "scene.png")
    Image.fromarray(ds.sample()[0][0]).save(image_path)
    out_dir = os.path.join(mcmc_dir, "painted")
    cli = os.path.join(os.path.dirname(sys.executable), "spiral-jax")
    result = subprocess.run([cli, "paint", f"--workdir={workdir}", f"--image={image_path}",
                             f"--out_dir={out_dir}"], capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    program = programs.load(os.path.join(out_dir, "program.json"))
    self.assertIsInstance(program, programs.SceneProgram)
    self.assertLen(program, config.env.kwargs.episode_length)
    with Image.open(os.path.join(out_dir, "scene_256.png")) as big:
      self.assertEqual(big.size, (256, 256))
    with Image.open(os.path.join(out_dir, "scene.png")) as small:
      rendered = np.asarray(small, np.float32) / 255
    np.testing.assert_allclose(rendered, mujoco_render.render_program(program), atol=1 / 255)


if __name__ == "__main__":
  absltest.main()
