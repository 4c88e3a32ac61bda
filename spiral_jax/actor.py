"""Actors (paper section 3.4): threads that run the policy against dm_env renderers.

Each actor thread owns several environments and steps them in lockstep, so one jitted policy call
serves all of them; a finished batch of episodes goes into a bounded queue as `Trajectory`s. Actors
read the learner's latest parameters from a `ParamsStore` at the start of each batch of episodes:
publishing is a reference swap under a lock, so the learner never waits for actors.

Environments are any `dm_env.Environment` whose observations hold a "canvas" and whose episodes
last exactly `episode_length` steps (every SPIRAL renderer does); an episode of another length is
an error, not a silent truncation.

Failure: an exception in an actor thread is kept with its traceback, the pool's stop event is set,
and `ActorPool.get` raises `ActorError` carrying it within its poll interval, so a run never hangs
on a dead actor. Each environment is watched (`WatchedEnv`): a canvas that does not match the
observation spec is an error naming the environment, and a `step` or `reset` that has not
returned after `env_timeout_s` (once the actor's first batch, which may compile, is done) stops
the run with an error naming the environment, instead of a silent hang.
"""

import queue
import threading
import time
import traceback

import jax
import numpy as np

from spiral_jax import trajectory as trajectory_lib


ENV_TIMEOUT_S = 8.0  # the longest an environment call may take once an actor is warmed up


class ActorError(RuntimeError):
  """An actor thread failed; the message holds its traceback."""


class WatchedEnv:
  """A dm_env environment whose calls are timed and whose canvases are checked against its spec.

  `busy_since` is when the call under way started (None between calls); `watch` turns the
  timing on (off while the first batch may compile)."""

  def __init__(self, env):
    self.env = env
    self.name = type(env).__name__
    self.busy_since = None
    self.call = None
    self.watch = False
    spec = env.observation_spec()
    spec = spec.get("canvas") if isinstance(spec, dict) else None
    self._shape = None if spec is None else tuple(spec.shape)

  def _timed(self, call, *args):
    self.call = call
    self.busy_since = time.monotonic()
    try:
      timestep = getattr(self.env, call)(*args)
    finally:
      self.busy_since = None
    canvas = np.asarray(timestep.observation["canvas"])
    if self._shape is not None and canvas.shape != self._shape:
      raise ValueError(f"Environment {self.name}.{call}() returned a canvas of shape "
                       f"{canvas.shape}; its observation spec says {self._shape}.")
    return timestep

  def reset(self):
    return self._timed("reset")

  def step(self, action):
    return self._timed("step", action)

  def close(self):
    self.env.close()

  def stuck_for(self, now):
    """Seconds the call under way has taken, when watched; else 0."""
    since = self.busy_since
    return now - since if self.watch and since is not None else 0.0


class ParamsStore:
  """The latest policy parameters and their version, swapped atomically."""

  def __init__(self, params=None):
    self._lock = threading.Lock()
    self._params, self._version = params, 0

  def publish(self, params):
    with self._lock:
      self._params, self._version = params, self._version + 1

  def get(self):
    with self._lock:
      return self._params, self._version


def _stack_observations(timesteps):
  return jax.tree.map(lambda *xs: np.stack(xs), *[ts.observation for ts in timesteps])


def run_episodes(envs, policy, step_fn, params, key, targets=None):
  """Runs one episode on each env in lockstep; returns a batch-major Trajectory batch (N, T, ...).

  Args:
    envs: N dm_env environments with fixed-length episodes.
    policy: the `Policy` (for input helpers).
    step_fn: jitted `policy.step`.
    params: policy parameters.
    key: a JAX key for this batch of episodes.
    targets: (N, H, W, C) images for a conditional policy, else None.
  """
  n = len(envs)
  timesteps = [env.reset() for env in envs]
  state = policy.initial_state(n)
  prev_action = jax.tree.map(np.asarray, policy.zero_action((n,)))
  first = np.ones(n, bool)
  records = []
  t = 0
  while True:
    observation = _stack_observations(timesteps)
    inputs = policy.inputs(observation, prev_action, first, targets)
    actions, output, state = step_fn(params, jax.random.fold_in(key, t), inputs, state)
    actions = jax.tree.map(np.asarray, actions)
    records.append((observation["canvas"], prev_action, inputs.action_mask, first,
                    actions, np.asarray(output.log_prob)))
    timesteps = [env.step({name: value[i] for name, value in actions.items()})
                 for i, env in enumerate(envs)]
    t += 1
    done = [ts.last() for ts in timesteps]
    if all(done):
      break
    if any(done):
      raise ValueError("Environments in one actor ended their episodes at different steps "
                       f"({sum(done)} of {n} after {t}); SPIRAL needs fixed-length episodes.")
    prev_action, first = actions, np.zeros(n, bool)
  canvas, prev, mask, firsts, acts, log_probs = zip(*records)
  stack_time = lambda *xs: np.stack([np.asarray(x) for x in xs], axis=1)
  return trajectory_lib.Trajectory(
      canvas=np.stack(canvas, axis=1),
      prev_action=jax.tree.map(stack_time, *prev),
      action_mask=jax.tree.map(stack_time, *mask),
      first=np.stack(firsts, axis=1),
      action=jax.tree.map(stack_time, *acts),
      behaviour_log_prob=np.stack(log_probs, axis=1),
      final_canvas=np.stack([np.asarray(ts.observation["canvas"]) for ts in timesteps]),
      target=None if targets is None else np.asarray(targets, np.float32))


class Feed:
  """A bounded queue from producer threads to one consumer. Producers wait while it is full (memory
  stays bounded); the first failure a producer reports stops the feed and reaches the consumer as
  ActorError; `stop()` releases producers and consumer alike.

  Args:
    size: bound on queued items.
    poll_s: how often waiting producers and the consumer look at the stop flag.
  """

  def __init__(self, size, poll_s=0.5):
    self._queue = queue.Queue(maxsize=size)
    self._stopped = threading.Event()
    self._error = None
    self._lock = threading.Lock()
    self._poll_s = poll_s

  def stopped(self):
    return self._stopped.is_set()

  def failed(self):
    return self._error is not None

  def stop(self):
    self._stopped.set()

  def put(self, item):
    """Waits for room; returns False, dropping the item, once the feed has stopped."""
    while not self._stopped.is_set():
      try:
        self._queue.put(item, timeout=self._poll_s)
        return True
      except queue.Full:
        continue
    return False

  def fail(self, message):
    """Records the first failure and stops the feed."""
    with self._lock:
      if self._error is None:
        self._error = message
    self._stopped.set()

  def raise_if_failed(self):
    if self._error is not None:
      raise ActorError(self._error)

  def get(self, timeout_s=None, check=None):
    """The next item. Raises ActorError once a producer has failed (`check`, called while waiting,
    may report more failures), or when the feed was stopped and is empty; TimeoutError after
    timeout_s seconds."""
    waited = 0.0
    while True:
      if check is not None:
        check()
      self.raise_if_failed()
      if self._stopped.is_set() and self._queue.empty():
        raise ActorError("The feed was stopped.")
      try:
        return self._queue.get(timeout=self._poll_s)
      except queue.Empty:
        waited += self._poll_s
        if timeout_s is not None and waited >= timeout_s:
          raise TimeoutError(f"Nothing came in {timeout_s} s.") from None

  def qsize(self):
    return self._queue.qsize()


class ActorPool:
  """`num_actors` threads, each running `envs_per_actor` environments, feeding a bounded queue.

  Args:
    env_factory: makes one environment (called once per env, in the actor's thread).
    policy: the `Policy`.
    params_store: where the learner publishes parameters.
    num_actors, envs_per_actor: threads, and environments per thread (one batched call each).
    key: base JAX key; actor i's batch j uses fold_in(fold_in(key, i), j).
    target_fn: (actor, batch_index, n) -> (n, H, W, C) targets, for conditional policies.
    queue_size: bound on queued episode batches (memory stays bounded; actors wait).
  """

  def __init__(self, env_factory, policy, params_store, num_actors, envs_per_actor, key,
               target_fn=None, queue_size=8, poll_s=0.5, env_timeout_s=ENV_TIMEOUT_S):
    self._env_factory = env_factory
    self._policy = policy
    self._params_store = params_store
    self._key = key
    self._target_fn = target_fn
    self._envs_per_actor = envs_per_actor
    self._feed = Feed(queue_size, poll_s)
    self._env_timeout_s = env_timeout_s
    self._watched = []
    self._hung = False
    self._step_fn = jax.jit(policy.step)
    self._threads = [threading.Thread(target=self._run, args=(i,), name=f"actor-{i}", daemon=True)
                     for i in range(num_actors)]
    self.episodes = 0

  def start(self):
    for thread in self._threads:
      thread.start()
    return self

  def _run(self, actor_id):
    try:
      envs = [WatchedEnv(self._env_factory()) for _ in range(self._envs_per_actor)]
      self._watched.extend(envs)
      key = jax.random.fold_in(self._key, actor_id)
      batch_index = 0
      while not self._feed.stopped():
        params, version = self._params_store.get()
        targets = None
        if self._target_fn is not None:
          targets = self._target_fn(actor_id, batch_index, len(envs))
        batch = run_episodes(envs, self._policy, self._step_fn, params,
                             jax.random.fold_in(key, batch_index), targets)
        batch_index += 1
        for env in envs:  # compiled by now: from here on a slow call is a hang
          env.watch = True
        self._feed.put((batch, version))
      for env in envs:
        env.close()
    except BaseException:  # pylint: disable=broad-except
      self._feed.fail(f"Actor {actor_id} failed:\n{traceback.format_exc()}")

  def _watch_envs(self):
    if self._feed.failed() or not self._env_timeout_s:
      return
    now = time.monotonic()
    for env in list(self._watched):
      if env.stuck_for(now) > self._env_timeout_s:
        self._hung = True
        self._feed.fail(f"Environment {env.name}.{env.call}() has not returned for "
                        f"{env.stuck_for(now):.0f} s (env_timeout_s={self._env_timeout_s:g}):"
                        " the renderer hangs. The run stops; its actor thread is abandoned.")
        break

  def get(self, timeout_s=None):
    """The next batch of episodes (batch-major Trajectory) and the params version it used.

    Raises ActorError as soon as an actor has failed, and TimeoutError after timeout_s seconds.
    """
    try:
      return self._feed.get(timeout_s, check=self._watch_envs)
    except TimeoutError:
      raise TimeoutError(f"No trajectories from the actors in {timeout_s} s.") from None

  def qsize(self):
    return self._feed.qsize()

  def stop(self, join_timeout_s=10.0):
    self._feed.stop()
    for thread in self._threads:
      thread.join(0.0 if self._hung else join_timeout_s)  # a hung renderer never returns
    self._watch_envs()
    self._feed.raise_if_failed()
