"""The policy reads any spec, samples valid actions, and scores them as it sampled them."""

import dataclasses

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from environments import jax_paint
from environments import libmypaint
from environments import paint_actions
from spiral_jax.networks import conv
from spiral_jax.networks import policy as policy_lib
from tests import squares_env

ENVS = (
    ("libmypaint_colour", libmypaint.LibMyPaint),
    ("libmypaint_grey_small_grid", lambda: libmypaint.LibMyPaint(grayscale=True, grid_size=8,
                                                                 canvas_size=32)),
    ("jax_paint", jax_paint.JaxPaint),
    ("squares", squares_env.Squares),
)


# The location heads' branch at the grid's resolution.
SKIP = dataclasses.replace(policy_lib.SMALL, location_skip_channels=8)
# The stroke's locations decoded before its other components, read out at the chosen cells.
LOCATIONS_FIRST = dataclasses.replace(SKIP, location_readout=True,
                                      decode_first=("control", "end"))


def batched_observation(policy, batch, key):
  return {"canvas": jax.random.uniform(key, (batch,) + policy.canvas_shape)}


class PolicyTest(parameterized.TestCase):

  @parameterized.named_parameters(*ENVS)
  def test_sampled_actions_lie_in_the_spec(self, make_env):
    env = make_env()
    policy = policy_lib.Policy(env.observation_spec(), env.action_spec())
    params = policy.init(jax.random.PRNGKey(0))
    batch = 64
    inputs = policy.inputs(batched_observation(policy, batch, jax.random.PRNGKey(1)),
                           policy.zero_action((batch,)), np.ones(batch, bool))
    actions, output, _ = jax.jit(policy.step)(params, jax.random.PRNGKey(2), inputs,
                                              policy.initial_state(batch))
    for name, spec in env.action_spec().items():
      self.assertEqual(actions[name].shape, (batch,) + spec.shape, name)
      for i in range(batch):
        spec.validate(np.asarray(actions[name][i]))
      self.assertGreater(len(np.unique(np.asarray(actions[name]).reshape(batch, -1), axis=0)), 1,
                         f"{name}: a fresh policy should not be deterministic")
    self.assertEqual(output.log_prob.shape, (batch,))
    self.assertTrue(np.all(np.asarray(output.log_prob) < 0))
    self.assertTrue(np.all(np.asarray(output.entropy) > 0))
    self.assertEqual(output.value.shape, (batch,))

  @parameterized.named_parameters(*ENVS, ("jax_paint_location_branch", jax_paint.JaxPaint,
                                           SKIP),
                                  ("jax_paint_locations_first", jax_paint.JaxPaint, LOCATIONS_FIRST))
  def test_scorer_matches_sampler_through_episode_boundaries(self, make_env,
                                                              config=policy_lib.SMALL):
    env = make_env()
    policy = policy_lib.Policy(env.observation_spec(), env.action_spec(), config)
    params = policy.init(jax.random.PRNGKey(0))
    batch, steps = 3, 5
    first = np.array([[1, 1, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 0]], bool)
    canvases = jax.random.uniform(jax.random.PRNGKey(5), (steps, batch) + policy.canvas_shape)
    state = policy.initial_state(batch)
    prev = policy.zero_action((batch,))
    step = jax.jit(policy.step)
    sampled, log_probs, values, all_inputs = [], [], [], []
    for t in range(steps):
      inputs = policy.inputs({"canvas": canvases[t]}, prev, first[t])
      actions, output, state = step(params, jax.random.PRNGKey(10 + t), inputs, state)
      sampled.append(actions)
      log_probs.append(output.log_prob)
      values.append(output.value)
      all_inputs.append(inputs)
      prev = actions
    stack = lambda *xs: jnp.stack(xs)
    inputs_seq = jax.tree.map(stack, *all_inputs)
    actions_seq = jax.tree.map(stack, *sampled)
    scored, _ = jax.jit(policy.unroll)(params, inputs_seq, actions_seq,
                                       policy.initial_state(batch))
    np.testing.assert_allclose(scored.log_prob, jnp.stack(log_probs), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scored.value, jnp.stack(values), rtol=1e-4, atol=1e-5)
    # Without the resets the LSTM carries state across the boundaries and the scores change.
    no_reset = inputs_seq._replace(first=jnp.zeros_like(inputs_seq.first).at[0].set(True))
    changed, _ = jax.jit(policy.unroll)(params, no_reset, actions_seq, policy.initial_state(batch))
    self.assertGreater(float(jnp.abs(changed.value[3] - scored.value[3]).max()), 1e-6)

  def test_relaxed_step_samples_as_step_does_with_straight_through_vectors(self):
    env = jax_paint.JaxPaint(canvas_size=32, grid_size=8, grayscale=True)
    policy = policy_lib.Policy(env.observation_spec(), env.action_spec())
    params = policy.init(jax.random.PRNGKey(0))
    batch = 16
    inputs = policy.inputs(batched_observation(policy, batch, jax.random.PRNGKey(1)),
                           policy.zero_action((batch,)), np.ones(batch, bool))
    state = policy.initial_state(batch)
    actions, output, _ = policy.step(params, jax.random.PRNGKey(2), inputs, state)
    relaxed_actions, relaxed, relaxed_output, _ = policy.relaxed_step(
        params, jax.random.PRNGKey(2), inputs, state, temperature=0.5)
    for comp in policy.components:
      np.testing.assert_array_equal(relaxed_actions[comp.name], actions[comp.name], comp.name)
      vector = relaxed[comp.name]
      self.assertEqual(vector.shape, (batch, comp.num_values))
      index = actions[comp.name]
      if comp.is_location:
        index = index[:, 1] * comp.grid[0] + index[:, 0]
      np.testing.assert_array_equal(vector, jax.nn.one_hot(index, comp.num_values))
    np.testing.assert_allclose(relaxed_output.log_prob, output.log_prob, rtol=1e-5)

    def expected_x(params):  # the mean x of the sampled end cells, through the soft vectors
      _, relaxed, _, _ = policy.relaxed_step(params, jax.random.PRNGKey(2), inputs, state, 0.5)
      return jnp.mean(relaxed["end"] @ (jnp.arange(64) % 8).astype(jnp.float32))

    grads = jax.grad(expected_x)(params)
    self.assertGreater(max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads)), 1e-6)

  @parameterized.named_parameters(*ENVS)
  def test_policy_drives_the_environment(self, make_env):
    env = make_env()
    policy = policy_lib.Policy(env.observation_spec(), env.action_spec())
    params = policy.init(jax.random.PRNGKey(0))
    step = jax.jit(policy.step)
    state, prev = policy.initial_state(1), policy.zero_action((1,))
    timestep = env.reset()
    for t in range(6):
      observation = jax.tree.map(lambda x: jnp.asarray(x)[None], timestep.observation)
      inputs = policy.inputs(observation, prev, np.array([timestep.first()]))
      prev, _, state = step(params, jax.random.PRNGKey(t), inputs, state)
      timestep = env.step(jax.tree.map(lambda x: np.asarray(x[0]), prev))
    self.assertLess(float(np.min(timestep.observation["canvas"])), 1.0)

  def test_blind_policy_ignores_the_canvas_and_conditional_reads_the_target(self):
    env = libmypaint.LibMyPaint(canvas_size=32, grid_size=8)
    key = jax.random.PRNGKey(3)
    outputs = {}
    for blind in (False, True):
      policy = policy_lib.Policy(env.observation_spec(), env.action_spec(), conditional=True,
                                 blind=blind)
      params = policy.init(jax.random.PRNGKey(0))
      step = jax.jit(policy.step)
      for canvas_value in (0.0, 1.0):
        for target_value in (0.0, 1.0):
          inputs = policy.dummy_inputs((2,))._replace(
              canvas=jnp.full((2, 32, 32, 3), canvas_value),
              target=jnp.full((2, 32, 32, 3), target_value))
          _, out, _ = step(params, key, inputs, policy.initial_state(2))
          outputs[blind, canvas_value, target_value] = np.asarray(out.value)
    for blind in (False, True):
      self.assertFalse(np.allclose(outputs[blind, 1.0, 0.0], outputs[blind, 1.0, 1.0]))
    self.assertFalse(np.allclose(outputs[False, 0.0, 1.0], outputs[False, 1.0, 1.0]))
    np.testing.assert_array_equal(outputs[True, 0.0, 1.0], outputs[True, 1.0, 1.0])

  def test_location_branch_reads_the_target(self):
    env = jax_paint.JaxPaint(canvas_size=32, grid_size=16, grayscale=True)
    policy = policy_lib.Policy(env.observation_spec(), env.action_spec(), SKIP, conditional=True)
    params = policy.init(jax.random.PRNGKey(0))
    self.assertTrue(any("skip" in name for name in params))

    def log_prob_of_end(target_value, cell):
      inputs = policy.dummy_inputs((1,))
      target = jnp.ones((1, 32, 32, 1)).at[0, 2 * cell[1]:2 * cell[1] + 2,
                                            2 * cell[0]:2 * cell[0] + 2].set(target_value)
      inputs = inputs._replace(target=target)
      actions = {"flag": jnp.array([1]), "end": jnp.array([[3, 4]]),
                 "control": jnp.array([[0, 0]]), "size": jnp.array([0]),
                 "pressure": jnp.array([0])}
      seq = lambda x: x[None]
      out, _ = policy.unroll(params, jax.tree.map(seq, inputs), jax.tree.map(seq, actions),
                             policy.initial_state(1))
      return float(out.log_prob[0, 0])

    # Ink in the target at the chosen cell (3, 4) changes its logit through the branch.
    blank = log_prob_of_end(1.0, (3, 4))
    self.assertNotAlmostEqual(blank, log_prob_of_end(0.0, (3, 4)), places=5)
    without = dataclasses.replace(SKIP, location_skip_channels=0)
    self.assertFalse(any("skip" in name for name in policy_lib.Policy(
        env.observation_spec(), env.action_spec(), without, conditional=True).init(
            jax.random.PRNGKey(0))))
    odd = jax_paint.JaxPaint(canvas_size=30, grid_size=16, grayscale=True)
    with self.assertRaisesRegex(ValueError, "whole number of grid cells"):
      policy_lib.Policy(odd.observation_spec(), odd.action_spec(), SKIP).init(
          jax.random.PRNGKey(0))

  def test_warp_and_readout_extend_the_branch_exactly(self):
    env = jax_paint.JaxPaint(canvas_size=32, grid_size=16, grayscale=True)
    spec = (env.observation_spec(), env.action_spec())
    key = jax.random.PRNGKey(1)
    inputs = jax.tree.map(lambda x: x[None], policy_lib.Policy(*spec, SKIP, True).dummy_inputs(
        (2,))._replace(target=jax.random.uniform(key, (2, 32, 32, 1))))
    actions = {"flag": jnp.array([[1, 1]]), "end": jnp.array([[[3, 4], [9, 2]]]),
               "control": jnp.array([[[0, 0], [5, 5]]]), "size": jnp.array([[0, 2]]),
               "pressure": jnp.array([[1, 3]])}

    def log_prob(config, params):
      policy = policy_lib.Policy(*spec, config, conditional=True)
      params = params or policy.init(key)
      out, _ = policy.unroll(params, inputs, actions, policy.initial_state(2))
      return np.asarray(out.log_prob), params

    plain, params = log_prob(SKIP, None)
    # The warp starts as the identity: the same policy as the branch without it.
    warped = dataclasses.replace(SKIP, location_skip_warp=True)
    warp_params = policy_lib.Policy(*spec, warped, True).init(key)
    warp_name = next(name for name in warp_params if "warp" in str(warp_params[name]))
    with_identity = dict(params, **{warp_name: warp_params[warp_name]})
    np.testing.assert_allclose(log_prob(warped, with_identity)[0], plain, rtol=1e-5)
    moved = dict(with_identity, **{warp_name: {"warp": jnp.roll(jnp.eye(256), 1, axis=1)}})
    self.assertFalse(np.allclose(log_prob(warped, moved)[0], plain))
    # The read-out adds the chosen cell's features to the decoder's input: with its weights at
    # zero, the same policy; with them, another.
    readout = dataclasses.replace(SKIP, location_readout=True)
    readout_params = policy_lib.Policy(*spec, readout, True).init(key)
    grown = {name: {k: (readout_params[name][k].at[:v.shape[0]].set(v).at[v.shape[0]:].set(0.0)
                        if v.shape != readout_params[name][k].shape else v)
                    for k, v in module.items()} for name, module in params.items()}
    np.testing.assert_allclose(log_prob(readout, grown)[0], plain, rtol=1e-5)
    self.assertFalse(np.allclose(log_prob(readout, readout_params)[0], plain))
    with self.assertRaisesRegex(ValueError, "set location_skip_channels > 0"):
      policy_lib.Policy(*spec, dataclasses.replace(policy_lib.SMALL, location_readout=True))

  def test_the_fine_path_needs_the_branch_and_even_cells(self):
    env = jax_paint.JaxPaint(canvas_size=32, grid_size=16, grayscale=True)
    spec = (env.observation_spec(), env.action_spec())
    with self.assertRaisesRegex(ValueError, "set location_skip_channels > 0"):
      policy_lib.Policy(*spec, dataclasses.replace(policy_lib.SMALL, location_fine_channels=4))
    with self.assertRaisesRegex(ValueError, "set location_skip_channels > 0"):
      policy_lib.Policy(*spec, dataclasses.replace(policy_lib.SMALL, branch_summary=True))
    fine = dataclasses.replace(SKIP, location_fine_channels=4)
    params = policy_lib.Policy(*spec, fine).init(jax.random.PRNGKey(0))  # cells 2 pixels wide
    self.assertTrue(any(name.endswith("/fine/projection") for name in params))
    odd = jax_paint.JaxPaint(canvas_size=32, grid_size=32, grayscale=True)  # cells 1 pixel wide
    with self.assertRaisesRegex(ValueError, "an even number of pixels wide"):
      policy_lib.Policy(odd.observation_spec(), odd.action_spec(), fine).init(
          jax.random.PRNGKey(0))

  def test_the_glimpse_reads_the_image_around_the_chosen_cell(self):
    env = jax_paint.JaxPaint(canvas_size=32, grid_size=16, grayscale=True)
    spec = (env.observation_spec(), env.action_spec())
    glimpse = dataclasses.replace(LOCATIONS_FIRST, location_glimpse=4)
    policy = policy_lib.Policy(*spec, glimpse, conditional=True)
    key = jax.random.PRNGKey(0)
    params = policy.init(key)
    # A glimpse per location component, each with a projection that starts at zero; give them
    # weights so that what the glimpses see moves the log-probs.
    names = [n for n in params if policy_lib.is_grown(n)]
    self.assertEqual({n.split("/")[2] for n in names}, {"glimpse_control", "glimpse_end"})
    params = {n: ({k: jax.random.normal(jax.random.fold_in(key, i), v.shape)
                   for k, v in m.items()} if n.endswith("/projection") else m)
              for i, (n, m) in enumerate(params.items())}
    # The end point (3, 4) covers pixels [6, 8) x [8, 10); its 4x4 glimpse rows 7-10,
    # columns 5-8 (image rows and columns). The control point (12, 13) is far from both.
    actions = {"flag": jnp.array([[1]]), "end": jnp.array([[[3, 4]]]),
               "control": jnp.array([[[12, 13]]]), "size": jnp.array([[0]]),
               "pressure": jnp.array([[1]])}
    self.assertEqual(policy_lib.glimpse_corners(jnp.array([4 * 16 + 3]), (16, 16), (32, 32),
                                                glimpse).tolist(), [[7 + 4, 5 + 4]])

    def log_prob(target, score):
      inputs = jax.tree.map(lambda x: x[None], policy.dummy_inputs((1,))._replace(
          target=target))
      out, _ = policy.unroll(params, inputs, actions, policy.initial_state(1),
                             component_weights=score)
      return float(out.log_prob[0, 0])

    blank = jnp.ones((1, 32, 32, 1))
    inside = blank.at[0, 9, 6].set(0.0)   # in the end point's glimpse
    outside = blank.at[0, 1, 30].set(0.0)  # in no glimpse, and far from both points
    # Score what is decoded after the end point (the end point comes after the control point).
    after_end = {"control": jnp.zeros((1, 1)), "end": jnp.zeros((1, 1)), "flag": jnp.ones((1, 1)),
                 "size": jnp.ones((1, 1)), "pressure": jnp.ones((1, 1))}
    # What comes after the end point reads its glimpse: a pixel inside it moves those log-probs
    # by more than one outside it does (which reaches them only through the torso and branch).
    moved_inside = abs(log_prob(inside, after_end) - log_prob(blank, after_end))
    moved_outside = abs(log_prob(outside, after_end) - log_prob(blank, after_end))
    self.assertGreater(moved_inside, 10 * moved_outside)
    with self.assertRaisesRegex(ValueError, "9 numbers"):
      dataclasses.replace(glimpse, location_glimpse_homography=(1.0, 0.0))
    with self.assertRaisesRegex(ValueError, "an even number"):
      dataclasses.replace(glimpse, location_glimpse=5)

  def test_location_feedback_starts_as_the_same_policy_and_can_follow_the_end(self):
    env = jax_paint.JaxPaint(canvas_size=32, grid_size=16, grayscale=True)
    spec = (env.observation_spec(), env.action_spec())
    readout = dataclasses.replace(SKIP, location_readout=True)
    feedback = dataclasses.replace(readout, location_feedback=True)
    key = jax.random.PRNGKey(0)
    params = policy_lib.Policy(*spec, feedback).init(key)
    # One 5x5 conv, for the control point (decoded after the end point), starting at zero.
    names = [n for n in params if policy_lib.is_grown(n)]
    self.assertEqual([n.split("/")[-1] for n in names], ["feedback_control"])
    self.assertEqual(params[names[0]]["w"].shape, (5, 5, 1, 1))
    self.assertFalse(np.any(np.asarray(params[names[0]]["w"])))
    plain = {n: m for n, m in params.items() if n not in names}
    inputs = policy_lib.Policy(*spec, SKIP).dummy_inputs((1, 8))
    actions = {"flag": jnp.ones((1, 8), jnp.int32),
               "end": jax.random.randint(key, (1, 8, 2), 0, 16),
               "control": jax.random.randint(jax.random.fold_in(key, 1), (1, 8, 2), 0, 16),
               "size": jnp.zeros((1, 8), jnp.int32), "pressure": jnp.zeros((1, 8), jnp.int32)}

    def log_prob(config, params):
      policy = policy_lib.Policy(*spec, config)
      out, _ = policy.unroll(params, inputs, actions, policy.initial_state(8))
      return np.asarray(out.log_prob)

    # Added to a policy trained without it (its weights at zero), the same policy.
    np.testing.assert_allclose(log_prob(feedback, params), log_prob(readout, plain), rtol=1e-6)
    # A large weight at the kernel's centre: the control point lands on the end point.
    w = jnp.zeros((5, 5, 1, 1)).at[2, 2, 0, 0].set(100.0)
    policy = policy_lib.Policy(*spec, feedback)
    sampled, _, _ = policy.step(dict(params, **{names[0]: {"w": w}}), jax.random.PRNGKey(3),
                                jax.tree.map(lambda x: x[0], inputs), policy.initial_state(8))
    np.testing.assert_array_equal(sampled["control"], sampled["end"])
    self.assertGreater(len(np.unique(np.asarray(sampled["end"]), axis=0)), 1)

  def test_decode_first_changes_the_order_not_the_parameters(self):
    env = jax_paint.JaxPaint()
    spec = (env.observation_spec(), env.action_spec())
    first = policy_lib.Policy(*spec, LOCATIONS_FIRST)
    plain = policy_lib.Policy(*spec, dataclasses.replace(LOCATIONS_FIRST, decode_first=()))
    key = jax.random.PRNGKey(0)
    shapes = lambda params: jax.tree.map(np.shape, params)
    params = first.init(key)
    self.assertEqual(shapes(params), shapes(plain.init(key)))  # either starts from the other
    inputs = first.dummy_inputs((1, 2))
    actions = first.zero_action((1, 2))
    # the same parameters score the same actions differently when decoded in another order
    a, _ = first.unroll(params, inputs, actions, first.initial_state(2))
    b, _ = plain.unroll(params, inputs, actions, plain.initial_state(2))
    self.assertGreater(float(jnp.max(jnp.abs(a.log_prob - b.log_prob))), 1e-4)
    with self.assertRaisesRegex(ValueError, "decode_first names \\['location'\\]"):
      policy_lib.Policy(*spec, dataclasses.replace(SKIP, decode_first=("location",)))
    with self.assertRaisesRegex(ValueError, "twice"):
      dataclasses.replace(SKIP, decode_first=("end", "end"))

  def test_paper_config_builds_and_steps(self):
    env = libmypaint.LibMyPaint()
    policy = policy_lib.Policy(env.observation_spec(), env.action_spec(), policy_lib.PAPER)
    params = policy.init(jax.random.PRNGKey(0))
    self.assertGreater(policy_lib.num_parameters(params), 1_000_000)
    inputs = policy.dummy_inputs((2, 2))
    output, _ = jax.jit(policy.unroll)(params, inputs, policy.zero_action((2, 2)),
                                       policy.initial_state(2))
    self.assertEqual(output.log_prob.shape, (2, 2))

  def test_composed_first_convs_equal_the_layer_by_layer_network(self):
    # The paper torso runs its first conv and first strided conv as one composed conv
    # (`conv.conv2d_pair`): same outputs and parameter gradients as the network layer by layer.
    env = libmypaint.LibMyPaint()
    policy = policy_lib.Policy(env.observation_spec(), env.action_spec(), policy_lib.PAPER,
                               conditional=True)
    params = policy.init(jax.random.PRNGKey(0))
    # Non-zero biases, so every offset the composed path handles matters.
    params = jax.tree.map(lambda p: p + 0.05 * jax.random.normal(jax.random.PRNGKey(1), p.shape),
                          params)
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    actions = jax.tree.map(jnp.asarray, paint_actions.random_actions(
        env.action_spec(), np.random.default_rng(0), (2, 2)))
    inputs = policy.dummy_inputs((2, 2))._replace(
        canvas=jax.random.uniform(keys[1], (2, 2, 64, 64, 3)),
        target=jax.random.uniform(keys[2], (2, 2, 64, 64, 3)), prev_action=actions)

    def loss(params):
      output, _ = policy.unroll(params, inputs, actions, policy.initial_state(2))
      return jnp.sum(output.log_prob) + jnp.sum(output.value), output

    # Jitted, each path compiles once (op by op, the paper network's gradients took minutes).
    with jax.default_matmul_precision("highest"):
      grads, output = jax.jit(jax.grad(loss, has_aux=True))(params)
      with conv.xla_convolutions():
        expected_grads, expected = jax.jit(jax.grad(lambda p: loss(p), has_aux=True))(params)
    for got, want in zip(output, expected):
      np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    for name in ("first_conv", "down_0", "coordinate_conv", "prev_action_mlp"):
      for module in [m for m in grads if m.endswith(name)]:
        for key in grads[module]:
          want = np.asarray(expected_grads[module][key])
          np.testing.assert_allclose(grads[module][key], want, rtol=0,
                                     atol=1e-4 * float(np.abs(want).max()))

  @parameterized.named_parameters(
      # The patchifying torso, the location branch, its read-out and summary, and a glimpse.
      ("small", dataclasses.replace(LOCATIONS_FIRST, location_glimpse=4, branch_summary=True)),
      # A torso of strided convs (the paper's kind), no branch.
      ("strided", dataclasses.replace(policy_lib.SMALL, first_kernel=3, first_stride=1,
                                      num_downsamples=2, num_res_blocks=2)))
  def test_a_widened_policy_acts_as_the_narrow_one_and_its_new_units_learn(self, narrow):
    env = jax_paint.JaxPaint(canvas_size=32, grid_size=16, grayscale=True)
    spec = (env.observation_spec(), env.action_spec())
    wide = dataclasses.replace(narrow, torso_channels=24, fc_size=96, lstm_size=80)
    small, large = (policy_lib.Policy(*spec, c, conditional=True) for c in (narrow, wide))
    key = jax.random.PRNGKey(0)
    # Every weight non-zero, the projections that start at zero included.
    params = {n: {k: v if k == "b" or np.any(np.asarray(v)) else
                  0.1 * jax.random.normal(jax.random.fold_in(key, len(n)), v.shape)
                  for k, v in m.items()} for n, m in small.init(key).items()}
    fresh = large.init(jax.random.PRNGKey(1))
    grown = policy_lib.widened(fresh, params)
    jax.tree.map(lambda a, b: self.assertEqual(a.shape, b.shape), grown, fresh)
    batch = 4
    inputs = jax.tree.map(lambda x: jnp.stack([x, x, x]), small.inputs(
        {"canvas": jax.random.uniform(jax.random.fold_in(key, 1), (batch, 32, 32, 1))},
        small.zero_action((batch,)), np.array([True, False, False, True]),
        target=jax.random.uniform(jax.random.fold_in(key, 2), (batch, 32, 32, 1))))
    inputs = inputs._replace(first=inputs.first.at[1:].set(False))
    step = jax.tree.map(lambda x: x[0], inputs)
    actions, _, _ = small.step(params, key, step, small.initial_state(batch))
    actions = jax.tree.map(lambda x: jnp.stack([x, x, x]), actions)

    def scores(policy, params):
      out, _ = policy.unroll(params, inputs, actions, policy.initial_state(batch))
      return out
    before, after = scores(small, params), scores(large, grown)
    for name in ("log_prob", "entropy", "value"):
      np.testing.assert_allclose(getattr(after, name), getattr(before, name), rtol=2e-5,
                                 atol=2e-5, err_msg=name)
    greedy = lambda policy, p: policy.step(p, key, step, policy.initial_state(batch),
                                           greedy=True)[0]
    jax.tree.map(np.testing.assert_array_equal, greedy(large, grown), greedy(small, params))
    # The new units' outgoing weights (zero) get a gradient: the wider policy can use them.
    gradient = jax.grad(lambda p: (lambda o: o.log_prob.sum() + o.value.sum())(scores(large, p)))(
        grown)
    lstm = next(n for n in grown if n.endswith("/lstm/linear"))
    self.assertGreater(float(jnp.abs(gradient[lstm]["w"][narrow.fc_size:wide.fc_size]).max()), 0)
    value = next(n for n in grown if n.endswith("/value"))
    self.assertGreater(float(jnp.abs(gradient[value]["w"][narrow.lstm_size:]).max()), 0)
    # A narrower target, or one that differs in more than its widths, is refused.
    with self.assertRaisesRegex(ValueError, "only grows a policy, but it would take "
                                "torso_channels .*lstm_size"):
      policy_lib.widened(params, grown)
    other = policy_lib.Policy(*spec, dataclasses.replace(wide, embed_dim=4), conditional=True)
    with self.assertRaisesRegex(ValueError, "differ in more than their widths"):
      policy_lib.widened(other.init(key), params)

  def test_missing_canvas_is_refused(self):
    with self.assertRaisesRegex(ValueError, "observation named 'canvas'"):
      policy_lib.Policy({"pixels": None}, libmypaint.LibMyPaint().action_spec())


if __name__ == "__main__":
  absltest.main()
