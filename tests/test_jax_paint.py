"""The JAX painting renderer: its env, its adapter, its agreement with libmypaint, its gradients."""

from absl.testing import absltest
from absl.testing import parameterized
import dm_env
from dm_env import test_utils
import jax
import jax.numpy as jnp
import numpy as np

from environments import jax_paint
from environments import libmypaint
from environments import paint_actions
from environments import programs
from tests.test_libmypaint import BAD_ACTIONS
from tests.test_libmypaint import make_action
from tests.test_libmypaint import random_action


def stacked_random_programs(config, num_programs, seed):
  return paint_actions.random_actions(paint_actions.action_spec(config), np.random.default_rng(seed),
                                      (num_programs, config.episode_length))


class ColourConformanceTest(test_utils.EnvironmentTestMixin, absltest.TestCase):

  def make_object_under_test(self):
    return jax_paint.JaxPaint(episode_length=5)

  def make_action_sequence(self):
    rng = np.random.default_rng(0)
    for _ in range(12):
      yield random_action(self.environment.action_spec(), rng)


class GreyConformanceTest(ColourConformanceTest):

  def make_object_under_test(self):
    return jax_paint.JaxPaint(grayscale=True, canvas_size=48, grid_size=16, episode_length=4)


class AdapterTest(parameterized.TestCase):

  def test_same_specs_as_libmypaint(self):
    for kwargs in ({}, {"grayscale": True, "canvas_size": 40, "grid_size": 8}):
      jax_env, lmp_env = jax_paint.JaxPaint(**kwargs), libmypaint.LibMyPaint(**kwargs)
      self.assertEqual(jax_env.action_spec(), lmp_env.action_spec())
      self.assertEqual(jax_env.observation_spec(), lmp_env.observation_spec())

  @parameterized.named_parameters(*BAD_ACTIONS)
  def test_bad_actions_raise_the_same_errors_as_libmypaint(self, corrupt, message):
    errors = []
    for env in (jax_paint.JaxPaint(), libmypaint.LibMyPaint()):
      env.reset()
      env.step(make_action(env, end=(10, 10)))
      bad = make_action(env, end=(30, 30), control=(0, 30), rgb=(19, 19, 0))
      corrupt(bad)
      with self.assertRaisesRegex(ValueError, message) as raised:
        env.step(bad)
      errors.append(str(raised.exception))
      self.assertLen(env.program, 1)
    self.assertEqual(errors[0], errors[1])

  def test_adapter_matches_functional_render_of_its_program(self):
    env = jax_paint.JaxPaint(episode_length=6)
    rng = np.random.default_rng(4)
    env.reset()
    for _ in range(6):
      timestep = env.step(random_action(env.action_spec(), rng))
    self.assertEqual(timestep.step_type, dm_env.StepType.LAST)
    np.testing.assert_allclose(jax_paint.render_program(env.program),
                               timestep.observation["canvas"], atol=1e-6)

  def test_observation_bookkeeping_matches_libmypaint(self):
    jax_env, lmp_env = jax_paint.JaxPaint(), libmypaint.LibMyPaint()
    actions = [make_action(jax_env, flag=0, end=(25, 7), control=(3, 30)),
               make_action(jax_env, end=(29, 7))]
    for env in (jax_env, lmp_env):
      env.reset()
      observations = [env.step(a).observation for a in actions]
      np.testing.assert_array_equal(observations[0]["brush_location"], [25, 7])
      self.assertEqual(observations[0]["action_mask"]["control"], 0.0)
      self.assertEqual(observations[1]["action_mask"]["control"], 1.0)
      self.assertEqual(int(observations[1]["episode_step"]), 2)

  def test_unmodelled_brush_is_refused(self):
    with self.assertRaisesRegex(ValueError, "no model of brush 'classic/charcoal'"):
      jax_paint.JaxPaint(brush="classic/charcoal")


class FidelityTest(parameterized.TestCase):

  # (name, start, control, end, size, least ink IoU, largest mean abs difference). A lone dab of a
  # big brush is the worst case: its radius is about 1 pixel short of libmypaint's.
  @parameterized.named_parameters(
      ("straight_thin", (4, 10), (16, 10), (28, 10), 1, 0.85, 0.02),
      ("straight_thick", (4, 16), (16, 16), (28, 16), 3, 0.9, 0.03),
      ("curve", (4, 24), (16, 0), (28, 24), 2, 0.85, 0.03),
      ("big_dab", (10, 10), (12, 12), (14, 12), 4, 0.85, 0.05),
  )
  def test_known_stroke_agrees_with_libmypaint(self, start, control, end, size, min_iou, max_mad):
    config = paint_actions.PaintConfig(grayscale=True)
    program = programs.Program(config, [
        make_action(libmypaint.LibMyPaint(grayscale=True), flag=0, end=start),
        make_action(libmypaint.LibMyPaint(grayscale=True), end=end, control=control, size=size,
                    pressure=6)])
    reference = libmypaint.render_program(program)[..., 0]
    rendered = jax_paint.render_program(program)[..., 0]
    ink_ref, ink_jax = reference < 0.5, rendered < 0.5
    iou = (ink_ref & ink_jax).sum() / (ink_ref | ink_jax).sum()
    self.assertGreater(ink_ref.sum(), 20)
    self.assertGreater(iou, min_iou)
    self.assertLess(np.abs(reference - rendered).mean(), max_mad)

  def test_move_paints_nothing(self):
    env = jax_paint.JaxPaint()
    env.reset()
    canvas = env.step(make_action(env, flag=0, end=(20, 20), rgb=(19, 0, 0))).observation["canvas"]
    np.testing.assert_array_equal(canvas, np.ones((64, 64, 3), np.float32))


class FunctionalEnvTest(absltest.TestCase):

  def test_batch_renders_like_one_by_one(self):
    params = jax_paint.default_params(paint_actions.PaintConfig(episode_length=8))
    actions = stacked_random_programs(params.config, 6, seed=1)
    batched = jax.jit(jax.vmap(jax_paint.render_actions, in_axes=(0, None)))(actions, params)
    for i in range(6):
      single = jax_paint.render_actions(jax.tree.map(lambda a, i=i: a[i], actions), params)
      np.testing.assert_allclose(batched[i], single, atol=1e-5)
    self.assertGreater(float(jnp.abs(batched[0] - batched[1]).mean()), 0.01)

  def test_vmapped_step_matches_the_adapter(self):
    params = jax_paint.default_params(paint_actions.PaintConfig(episode_length=4))
    actions = stacked_random_programs(params.config, 3, seed=2)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    state, timestep = jax.vmap(jax_paint.reset, in_axes=(0, None))(keys, params)
    self.assertTrue(np.all(np.asarray(timestep.step_type) == dm_env.StepType.FIRST))
    step = jax.jit(jax.vmap(jax_paint.step, in_axes=(0, 0, 0, None)))
    for t in range(4):
      state, timestep = step(keys, state, jax.tree.map(lambda a, t=t: a[:, t], actions), params)
    self.assertTrue(np.all(np.asarray(timestep.step_type) == dm_env.StepType.LAST))
    np.testing.assert_array_equal(np.asarray(timestep.discount), 0.0)
    for i in range(3):
      env = jax_paint.JaxPaint(episode_length=4)
      env.reset()
      for t in range(4):
        canvas = env.step({k: v[i, t] for k, v in actions.items()}).observation["canvas"]
      np.testing.assert_allclose(np.asarray(timestep.observation["canvas"][i]), canvas, atol=1e-5)
    # A step after the last one starts a new episode, as in dm_env.
    state, timestep = step(keys, state, jax.tree.map(lambda a: a[:, 0], actions), params)
    self.assertTrue(np.all(np.asarray(timestep.step_type) == dm_env.StepType.FIRST))
    np.testing.assert_array_equal(np.asarray(state.canvas), 1.0)

  def test_out_of_range_actions_are_clipped_inside_jit(self):
    params = jax_paint.default_params()
    state, _ = jax_paint.reset(None, params)
    step = jax.jit(jax_paint.step)
    wild = {"flag": 5, "end": np.array([-4, 40]), "control": np.array([99, 12]), "size": 17,
            "pressure": -3, "red": 25, "green": -1, "blue": 7}
    clipped = {"flag": 1, "end": np.array([0, 31]), "control": np.array([31, 12]), "size": 5,
               "pressure": 0, "red": 19, "green": 0, "blue": 7}
    state_wild, ts_wild = step(None, state, jax.tree.map(jnp.asarray, wild), params)
    state_clip, ts_clip = step(None, state, jax.tree.map(jnp.asarray, clipped), params)
    np.testing.assert_array_equal(state_wild.canvas, state_clip.canvas)
    np.testing.assert_array_equal(ts_wild.observation["brush_location"], [0, 31])
    self.assertLess(float(state_wild.canvas.min()), 0.5)

  def test_stroke_gradients_are_finite_and_nonzero(self):
    target = jax_paint.render_stroke(jnp.ones((32, 32, 3)), jnp.array([4.0, 20.0]),
                                     jnp.array([16.0, 4.0]), jnp.array([28.0, 22.0]), 3.0, 0.6,
                                     0.6, jnp.array([0.1, 0.2, 0.9]))

    def loss(start, control, end, radius, pressure, colour):
      canvas = jax_paint.render_stroke(jnp.ones((32, 32, 3)), start, control, end, radius,
                                       pressure, pressure, colour)
      return jnp.mean(jnp.square(canvas - target))

    args = (jnp.array([6.0, 18.0]), jnp.array([14.0, 7.0]), jnp.array([25.0, 24.0]),
            jnp.float32(2.0), jnp.float32(0.4), jnp.array([0.5, 0.5, 0.5]))
    grads = jax.grad(loss, argnums=tuple(range(6)))(*args)
    for name, grad in zip(("start", "control", "end", "radius", "pressure", "colour"), grads):
      self.assertTrue(np.all(np.isfinite(np.asarray(grad))), name)
      self.assertGreater(float(jnp.abs(grad).max()), 1e-6, name)

  def test_relaxed_step_with_one_hot_vectors_is_step_and_is_differentiable(self):
    config = paint_actions.PaintConfig(canvas_size=32, grid_size=8)
    params = jax_paint.default_params(config)
    spec = paint_actions.action_spec(config)
    rng = np.random.default_rng(3)
    one_hot = lambda name, value: jax.nn.one_hot(
        value[1] * 8 + value[0] if name in paint_actions.LOCATION_COMPONENTS else value,
        8 * 8 if name in paint_actions.LOCATION_COMPONENTS else spec[name].num_values)
    state, _ = jax_paint.reset(None, params)
    relaxed_state = state
    for _ in range(4):
      action = jax.tree.map(jnp.asarray, random_action(spec, rng))
      action["flag"] = jnp.asarray(1)
      relaxed = {name: one_hot(name, value) for name, value in action.items()}
      state, _ = jax_paint.step(None, state, action, params)
      relaxed_state, _ = jax_paint.relaxed_step(None, relaxed_state, action, relaxed, params)
      np.testing.assert_allclose(relaxed_state.canvas, state.canvas, atol=1e-6)

    action = jax.tree.map(jnp.asarray, random_action(spec, rng))
    action["flag"] = jnp.asarray(1)

    def darkness(relaxed):
      state, _ = jax_paint.reset(None, params)
      state, _ = jax_paint.relaxed_step(None, state, action, relaxed, params)
      return 1.0 - jnp.mean(state.canvas)

    relaxed = {name: one_hot(name, value) for name, value in action.items()}
    grads = jax.grad(darkness)(relaxed)
    # More paint weight, a bigger brush and more pressure all darken the canvas.
    self.assertGreater(float(grads["flag"][paint_actions.PAINT]), 0.0)
    self.assertGreater(float(grads["size"][-1] - grads["size"][0]), 0.0)
    self.assertGreater(float(grads["pressure"][-1] - grads["pressure"][0]), 0.0)
    for name in ("end", "control"):
      self.assertTrue(np.all(np.isfinite(np.asarray(grads[name]))), name)
      self.assertGreater(float(jnp.abs(grads[name]).max()), 1e-6, name)


if __name__ == "__main__":
  absltest.main()
