"""The viewer's runtime: one agent acting in one dm_env environment, an action at a time.

`Runtime` knows environments only through dm_env (any painting or MuJoCo renderer, or your own)
and the agent only through its `Policy` and parameters. It plays episodes at a chosen speed,
pauses, steps, restarts, moves to the next target, reloads newer parameters between episodes
(a run still training) and saves what is on the canvas through a callback. Everything it shows
(canvas, target, status line) is plain data, so the window stays thin.
"""

import functools

import jax
import numpy as np

SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # actions per second


class PolicyDriver:
  """A policy acting in a single environment, one observation at a time."""

  def __init__(self, policy, params, key, greedy=True):
    self.policy = policy
    self.params = params
    self._key = key
    self._step = jax.jit(functools.partial(policy.step, greedy=greedy))
    self._episode = 0
    self.reset()

  def reset(self):
    self._state = self.policy.initial_state(1)
    self._prev_action = jax.tree.map(np.asarray, self.policy.zero_action((1,)))
    self._first = True
    self._t = 0
    self._episode += 1

  def act(self, observation, target=None):
    """The action (a dict of numpy values) for this observation of the episode's next step."""
    batched = jax.tree.map(lambda x: np.asarray(x)[None], observation)
    inputs = self.policy.inputs(batched, self._prev_action, np.array([self._first]),
                                None if target is None else np.asarray(target, np.float32)[None])
    key = jax.random.fold_in(jax.random.fold_in(self._key, self._episode), self._t)
    actions, _, self._state = self._step(self.params, key, inputs, self._state)
    actions = jax.tree.map(np.asarray, actions)
    self._prev_action, self._first = actions, False
    self._t += 1
    return {name: value[0] for name, value in actions.items()}


def describe(action):
  """An action as short text, flag first: 'flag=1 control=(3,5) end=(12,4) pressure=7 size=2'."""
  if action is None:
    return "-"
  parts = []
  for name in sorted(action, key=lambda n: (n != "flag", n)):
    value = action[name]
    value = np.asarray(value)
    text = f"({','.join(str(v) for v in value.ravel().tolist())})" if value.ndim else str(
        value.item())
    parts.append(f"{name}={text}")
  return " ".join(parts)


class Runtime:
  """Playback of an agent's episodes, driven by method calls (the window's keys call them).

  Args:
    env: a dm_env environment whose observation holds "canvas" (H, W, C) in [0, 1].
    policy: the agent's `Policy`; params: its parameters.
    targets: (N, H, W, C) images for a conditional agent (painted in turn), else None.
    reload: optional callable returning (params, label) when newer parameters exist, else None;
      asked before each new episode (a run that is still training).
    save: optional callable (out_dir, actions, canvas, target) -> list of written paths.
    speed: actions per second while playing (one of SPEEDS).
    hold_s: how long a finished painting stays before the next episode starts.
    greedy: take the most likely action (True) or sample; key: the JAX key for sampling.
    label: what the parameters are (shown in the status line), e.g. "checkpoint 1930".
    episode_length: the episode's number of actions, for the status line (optional).
  """

  def __init__(self, env, policy, params, targets=None, reload=None, save=None, speed=4.0,
               hold_s=2.0, greedy=True, key=None, label="", episode_length=None):
    if policy.conditional and targets is None:
      raise ValueError("A conditional agent paints targets: give the viewer target images.")
    self.env = env
    self.targets = None if targets is None else np.asarray(targets, np.float32)
    self._reload = reload
    self._save = save
    self.speed = min(SPEEDS, key=lambda s: abs(s - speed))
    self.hold_s = hold_s
    self.label = label
    self.episode_length = episode_length
    self.driver = PolicyDriver(policy, params, key if key is not None else jax.random.PRNGKey(0),
                               greedy)
    self.paused = False
    self.target_index = 0
    self.message = ""
    self._clock = 0.0
    self._held = 0.0
    self._start_episode()

  # Episode state.

  def _start_episode(self):
    if self._reload is not None:
      newer = self._reload()
      if newer is not None:
        self.driver.params, self.label = newer
        self.message = f"loaded {self.label}"
    self.driver.reset()
    self.timestep = self.env.reset()
    self.actions = []
    self._clock = self._held = 0.0

  @property
  def t(self):
    """Actions taken in this episode."""
    return len(self.actions)

  @property
  def last_action(self):
    return self.actions[-1] if self.actions else None

  @property
  def done(self):
    return self.timestep.last()

  @property
  def target(self):
    return None if self.targets is None else self.targets[self.target_index]

  @property
  def canvas(self):
    return np.asarray(self.timestep.observation["canvas"], np.float32)

  @property
  def l2(self):
    if self.target is None:
      return None
    return float(np.mean(np.square(self.canvas - self.target)))

  # Commands (keys).

  def step(self):
    """One action; on a finished episode, starts the next one instead. Returns the action or
    None."""
    if self.done:
      self.next_episode()
      return None
    action = self.driver.act(self.timestep.observation, self.target)
    self.timestep = self.env.step(action)
    self.actions.append(action)
    self.message = ""
    return action

  def toggle_pause(self):
    self.paused = not self.paused

  def restart(self):
    """The same target again from a blank canvas."""
    self._start_episode()

  def next_target(self):
    """The next target (conditional), or a new episode."""
    if self.targets is not None:
      self.target_index = (self.target_index + 1) % len(self.targets)
    self._start_episode()

  def next_episode(self):
    self.next_target()

  def faster(self):
    self.speed = SPEEDS[min(SPEEDS.index(self.speed) + 1, len(SPEEDS) - 1)]

  def slower(self):
    self.speed = SPEEDS[max(SPEEDS.index(self.speed) - 1, 0)]

  def save(self, out_dir):
    """Writes the current painting through the `save` callback; returns the written paths."""
    if self._save is None:
      raise ValueError("This viewer was given no way to save paintings.")
    paths = self._save(out_dir, list(self.actions), self.canvas, self.target)
    self.message = f"saved {len(paths)} files in {out_dir}"
    return paths

  # Time.

  def advance(self, dt):
    """Plays `dt` seconds: actions at `speed` per second, a finished painting held `hold_s`,
    then the next episode. Nothing happens while paused. Returns the actions taken."""
    if self.paused:
      return 0
    taken = 0
    if self.done:
      self._held += dt
      if self._held >= self.hold_s:
        self.next_episode()
      return 0
    self._clock += dt
    while self._clock >= 1.0 / self.speed and not self.done:
      self._clock -= 1.0 / self.speed
      self.step()
      taken += 1
    return taken

  def status_line(self):
    """The step, the action just taken, the l2 to the target, the speed, the state and what the
    parameters are, as one line."""
    return "  |  ".join(self.status_lines())

  def status_lines(self):
    """`status_line` as two lines: the step, l2, speed, state and label; the action just taken."""
    length = self.episode_length
    parts = [f"step {self.t}/{length}" if length else f"step {self.t}"]
    if self.l2 is not None:
      parts.append(f"l2 {self.l2:.4f}")
    parts.append(f"{self.speed:g} steps/s")
    parts.append("paused" if self.paused else ("done" if self.done else "playing"))
    if self.label:
      parts.append(self.label)
    if self.message:
      parts.append(self.message)
    return ["  |  ".join(parts), "action: " + describe(self.last_action)]

  def picture(self):
    """What the window shows, as float (H, W', 3): target | canvas, or the canvas alone."""
    rgb = lambda image: np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
    canvas = rgb(self.canvas)
    if self.target is None:
      return canvas
    gap = np.full((canvas.shape[0], max(1, canvas.shape[1] // 16), 3), 0.75, np.float32)
    return np.concatenate([rgb(self.target), gap, canvas], axis=1)


def run_headless(runtime, seconds, dt=1.0 / 30):
  """Plays the runtime for `seconds` of simulated time without a window (for tests and tools)."""
  steps = 0
  for _ in range(int(round(seconds / dt))):
    steps += runtime.advance(dt)
  return steps
