"""Reliability in figures: fuzzed environments, killed and resumed runs, a full disk, long runs'
memory, faulty renderers, the command line's errors and hostile files.

  python benchmarks/reliability.py            # the full run (about 45 minutes: two 30-minute runs
                                              # sampled for memory, side by side)
  python benchmarks/reliability.py --quick    # the tests' run (82 s here, alone)

Sections (each counts its outcomes; the last line printed is one flat JSON object):
1. fuzz: every environment (LibMyPaint grey and colour, JaxPaint, MujocoScenes) gets random
   actions, half valid and half malformed (a missing or extra key, a string, a fraction, NaN, a
   huge or negative value, an array where a scalar belongs and the reverse, None, not a dict). A
   malformed one must raise a ValueError naming the component and leave the episode untouched: a
   twin environment that gets only the valid actions must show the same canvas at every step.
   Valid ones must keep the canvas finite and in [0, 1]. Anything else is `fuzz_unexpected`.
2. kills: a training run killed with SIGKILL at random moments (checkpoint writes included) and
   resumed each time; then its counters, checkpoints and metrics are checked, and its final
   parameters compared with an uninterrupted run's. The run is the tiny threaded libmypaint one
   that the full-disk, fault and checkpoint sections train too (TINY_RUN), with its episodes in
   the learner's thread, which makes it deterministic; the sections share one on-disk cache of
   compiled programs, so that each start after the first compiles nothing.
3. full disk: a checkpoint write that fails with ENOSPC stops the run with one CheckpointError
   naming the intact checkpoint, and the run resumes from it.
4. memory (full run only): resident memory of a threaded libmypaint run and of an Anakin run,
   sampled every 10 s for `--rss_minutes`. Growth after the first 5 minutes is the median of the
   last 5 minutes' samples over the median of minutes 5-10 (RSS swings by about +-10% within a
   minute as XLA allocates and frees its buffers, so single samples measure that swing more than
   any growth); `rss_swing` is the largest sample after minute 5 over the smallest. `--only=memory`
   runs this section alone.
5. faults: a renderer that raises, hangs, or returns a wrong-shaped canvas in an actor thread;
   seconds from the fault to the run's stop, and whether the error names the environment
   (`--only=faults` runs this section alone).
6. the command line: errors a user can cause; each must be one line on stderr, exit status 1, no
   traceback, no directory created.
7. hostile files: truncated and corrupt MNIST IDX files, images that are not images or are odd,
   program JSON that is malformed, of a newer format or out of range, checkpoints that are
   truncated or from another config; each must get one clear error naming the file.
"""

import argparse
import errno
import glob
import gzip
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from unittest import mock

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # pylint: disable=wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(os.path.dirname(sys.executable), "spiral-jax")

# 1. Fuzzing.


def make_envs(name):
  """Two identical environments (the fuzzed one and its twin)."""
  if name.startswith("libmypaint"):
    from environments import libmypaint  # pylint: disable=import-outside-toplevel
    return [libmypaint.LibMyPaint(grayscale=name.endswith("grey")) for _ in range(2)]
  if name == "jax_paint":
    from environments import jax_paint  # pylint: disable=import-outside-toplevel
    return [jax_paint.JaxPaint(grayscale=True) for _ in range(2)]
  from environments import mujoco_scenes  # pylint: disable=import-outside-toplevel
  return [mujoco_scenes.MujocoScenes() for _ in range(2)]


def valid_action(spec, rng):
  return {name: (rng.integers(s.minimum, np.asarray(s.maximum) + 1, size=s.shape)
                 if s.shape else int(rng.integers(s.minimum, s.maximum + 1)))
          for name, s in spec.items()}


CORRUPTIONS = ("missing", "extra", "string", "fraction", "nan", "huge", "negative", "shape",
               "none", "not_a_dict")


def malformed_action(spec, rng):
  """(action, the component it breaks, the corruption)."""
  action = valid_action(spec, rng)
  name = sorted(spec)[rng.integers(len(spec))]
  kind = CORRUPTIONS[rng.integers(len(CORRUPTIONS))]
  shape = spec[name].shape
  if kind == "missing":
    del action[name]
  elif kind == "extra":
    action["bogus"] = 1
    name = "bogus"
  elif kind == "string":
    action[name] = "three"
  elif kind == "fraction":
    action[name] = np.full(shape, 1.5) if shape else 1.5
  elif kind == "nan":
    action[name] = np.full(shape, np.nan) if shape else float("nan")
  elif kind == "huge":
    action[name] = np.full(shape, 10**12) if shape else 10**12
  elif kind == "negative":
    action[name] = np.full(shape, -1) if shape else -1
  elif kind == "shape":
    action[name] = 1 if shape else np.array([1, 2, 3])
  elif kind == "none":
    action[name] = None
  else:
    return [action[k] for k in sorted(action)], "", kind
  return action, name, kind


def canvas_ok(canvas):
  canvas = np.asarray(canvas)
  return bool(np.all(np.isfinite(canvas)) and canvas.min() >= 0.0 and canvas.max() <= 1.0)


def fuzz(name, num_actions, seed):
  """Counts of outcomes for `num_actions` fuzzed actions on one environment."""
  env, twin = make_envs(name)
  spec = env.action_spec()
  rng = np.random.default_rng(seed)
  counts = {"valid": 0, "rejected": 0, "unexpected": 0}
  examples = []
  timestep, _ = env.reset(), twin.reset()
  for _ in range(num_actions):
    if timestep.last():
      timestep, _ = env.reset(), twin.reset()
    if rng.random() < 0.5:
      action = valid_action(spec, rng)
      try:
        timestep = env.step(action)
        twin_canvas = twin.step(action).observation["canvas"]
      except Exception as e:  # pylint: disable=broad-except
        counts["unexpected"] += 1
        examples.append(f"valid action raised {type(e).__name__}: {e}")
        timestep, _ = env.reset(), twin.reset()
        continue
      canvas = timestep.observation["canvas"]
      if canvas_ok(canvas) and np.array_equal(np.asarray(canvas), np.asarray(twin_canvas)):
        counts["valid"] += 1
      else:
        counts["unexpected"] += 1
        examples.append("a valid action gave a canvas out of [0, 1], not finite, or unlike the "
                        "twin's (a rejected action changed the episode)")
      continue
    action, component, kind = malformed_action(spec, rng)
    try:
      env.step(action)
    except ValueError as e:
      if component in str(e) or (kind == "not_a_dict" and "dict" in str(e)):
        counts["rejected"] += 1
      else:
        counts["unexpected"] += 1
        examples.append(f"{kind} {component!r}: the error does not name it: {e}")
      continue
    except Exception as e:  # pylint: disable=broad-except
      counts["unexpected"] += 1
      examples.append(f"{kind} {component!r}: {type(e).__name__}: {e}")
      continue
    counts["unexpected"] += 1
    examples.append(f"{kind} {component!r}: accepted")
    timestep, _ = env.reset(), twin.reset()
  env.close()
  twin.close()
  return counts, examples[:5]


# 2. Kill -9 and resume.

TINY_NETWORKS = {"policy.torso_channels": 8, "policy.first_kernel": 4, "policy.first_stride": 4,
                 "policy.num_downsamples": 0, "policy.num_res_blocks": 0, "policy.fc_size": 32,
                 "policy.lstm_size": 32, "policy.embed_dim": 4, "policy.location_channels": 4,
                 "policy.location_res_blocks": 0, "policy.location_skip_channels": 0}


# The tiny threaded libmypaint run that the kills, the full disk, the faulty renderers and the
# hostile checkpoints train: one set-up, so that its programs compile once (the on-disk cache).
TINY_RUN = dict(TINY_NETWORKS, **{
    "env.name": "libmypaint", "env.kwargs.canvas_size": 16, "env.kwargs.grid_size": 4,
    "env.kwargs.episode_length": 3, "mode": "threaded", "num_actors": 1, "envs_per_actor": 4,
    "queue_size": 2, "learner.batch_size": 8, "discriminator.channels": (8, 16),
    "max_minutes": 0.0, "checkpoint_every_minutes": 0.0, "picture_every_minutes": 0.0,
    "progress": False})


def train_command(workdir, updates, *more):
  """The tiny run as a command line; its episodes run in the learner's thread (num_actors 0), so
  that it is deterministic."""
  return [sys.executable, "-m", "experiments.train", f"--workdir={workdir}",
          f"--config={os.path.join(ROOT, 'experiments', 'configs', 'base.py')}:small",
          *[f"--config.{k}={v}" for k, v in TINY_RUN.items()], "--config.num_actors=0",
          f"--config.max_updates={updates}", "--config.checkpoint_every_updates=1",
          "--config.log_every_updates=1", *more]


def newest_checkpoint(workdir):
  steps = [int(os.path.basename(p)) for p in glob.glob(os.path.join(workdir, "checkpoints", "*"))
           if os.path.basename(p).isdigit()]
  return max(steps, default=0)


def kills(num_kills, updates, seed, compare=True):
  """Kills a run `num_kills` times at random moments, resuming each time; then checks it (and,
  with `compare`, that its parameters equal an uninterrupted run's)."""
  from experiments import setups  # pylint: disable=import-outside-toplevel
  from spiral_jax import metrics  # pylint: disable=import-outside-toplevel
  import jax  # pylint: disable=import-outside-toplevel
  rng = random.Random(seed)
  root = tempfile.mkdtemp(prefix="reliability-kills-")
  killed, straight = os.path.join(root, "killed"), os.path.join(root, "straight")
  env = dict(os.environ, OMP_NUM_THREADS="1")
  lost, done_kills, problems = 0, 0, []
  while done_kills < num_kills:
    resume = ["--resume"] if os.path.isdir(os.path.join(killed, "checkpoints")) else []
    before = newest_checkpoint(killed)
    process = subprocess.Popen(train_command(killed, updates, *resume), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # Wait for the run to get going (a new checkpoint), then kill it a random moment later.
    deadline = time.monotonic() + 300
    while newest_checkpoint(killed) <= before and process.poll() is None:
      if time.monotonic() > deadline:
        break
      time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 1.5))
    if process.poll() is not None:  # finished before the kill: start again from scratch
      if newest_checkpoint(killed) >= updates:
        shutil.rmtree(killed)
      continue
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_kills += 1
    at_kill = newest_checkpoint(killed)
    # The resume must start from the newest checkpoint that is complete.
    try:
      _, _, meta = setups.load_run(killed)
      resumed_from = int(meta["counters"]["updates"])
    except Exception as e:  # pylint: disable=broad-except
      problems.append(f"kill {done_kills}: checkpoint unreadable: {e}")
      lost += 1
      continue
    if resumed_from < at_kill - 1:  # at most the checkpoint being written is lost
      lost += 1
      problems.append(f"kill {done_kills}: newest checkpoint {at_kill}, restored {resumed_from}")
  result = subprocess.run(train_command(killed, updates, "--resume"), cwd=ROOT, env=env,
                          capture_output=True, text=True)
  if result.returncode != 0:
    problems.append(f"the last resume failed: {result.stderr.strip().splitlines()[-1:]}")
    return {"kills": done_kills, "kills_lost": lost + 1, "kills_params_equal": False}, problems
  records = metrics.read_jsonl(os.path.join(killed, "metrics.jsonl"))
  logged = [int(r["updates"]) for r in records]
  if logged != list(range(1, updates + 1)):
    lost += 1
    problems.append(f"metrics log updates {logged}, not 1..{updates} once each")
  _, params_killed, meta = setups.load_run(killed)
  equal = None
  if compare:
    subprocess.run(train_command(straight, updates), cwd=ROOT, env=env, capture_output=True,
                   check=True)
    _, params_straight, _ = setups.load_run(straight)
    equal = all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params_killed),
                                                      jax.tree.leaves(params_straight)))
  if int(meta["counters"]["updates"]) != updates:
    lost += 1
    problems.append(f"final updates {meta['counters']['updates']}, not {updates}")
  shutil.rmtree(root, ignore_errors=True)
  return {"kills": done_kills, "kills_lost": lost, "kills_params_equal": equal}, problems


# 3 and 5. A full disk and faulty renderers, in-process on a tiny threaded libmypaint run.

def tiny_config(**overrides):
  from experiments.configs import base  # pylint: disable=import-outside-toplevel
  config = base.get_config("small")
  config.update_from_flattened_dict(dict(TINY_RUN, **overrides))
  return config


def full_disk():
  """1 if a failing checkpoint write stops the run clearly and the run resumes after it."""
  import orbax.checkpoint as ocp  # pylint: disable=import-outside-toplevel
  from experiments import setups  # pylint: disable=import-outside-toplevel
  from spiral_jax import checkpoint as checkpoint_lib  # pylint: disable=import-outside-toplevel
  from spiral_jax import training  # pylint: disable=import-outside-toplevel
  workdir = tempfile.mkdtemp(prefix="reliability-disk-")
  config = tiny_config(max_updates=2, num_actors=0)
  training.run(config, setups.make_setup(config), workdir)
  real_save = ocp.CheckpointManager.save

  def disk_full(manager, step, *args, **kwargs):
    if step > 2:
      raise OSError(errno.ENOSPC, "No space left on device")
    return real_save(manager, step, *args, **kwargs)

  config.max_updates = 4
  ok = False
  with mock.patch.object(ocp.CheckpointManager, "save", disk_full):
    try:
      training.run(config, setups.make_setup(config), workdir, resume=True)
    except checkpoint_lib.CheckpointError as e:
      ok = "No space left" in str(e) and "checkpoint 2 is intact" in str(e)
  ok = ok and training.run(config, setups.make_setup(config), workdir, resume=True)[
      "updates"] == 4
  shutil.rmtree(workdir, ignore_errors=True)
  return int(ok)


def faulty_env_class(fault, after_steps, began):
  from environments import libmypaint  # pylint: disable=import-outside-toplevel

  class Faulty(libmypaint.LibMyPaint):
    """LibMyPaint that raises, hangs or returns a canvas of the wrong shape after a while."""

    steps = 0

    def step(self, action):
      Faulty.steps += 1
      if Faulty.steps <= after_steps:
        return super().step(action)
      began.append(time.monotonic())
      if fault == "raise":
        raise RuntimeError("the renderer's library crashed")
      if fault == "hang":
        time.sleep(3600)
      timestep = super().step(action)
      return timestep._replace(observation=dict(timestep.observation,
                                                canvas=timestep.observation["canvas"][1:]))

  Faulty.__name__ = Faulty.__qualname__ = f"Faulty{fault.title()}Renderer"
  return Faulty


def fault(kind, after_steps=400):
  """(seconds from the fault to the run's stop, whether the error names the environment)."""
  from experiments import setups  # pylint: disable=import-outside-toplevel
  from spiral_jax import actor as actor_lib  # pylint: disable=import-outside-toplevel
  from spiral_jax import training  # pylint: disable=import-outside-toplevel
  config = tiny_config(max_updates=100000)
  setup = setups.make_setup(config)
  began = []
  cls = faulty_env_class(kind, after_steps, began)
  setup.env_factory = lambda: cls.from_config(setups.paint_config(config.env))
  workdir = tempfile.mkdtemp(prefix="reliability-fault-")
  named = False
  try:
    training.run(config, setup, workdir)
  except actor_lib.ActorError as e:
    named = cls.__name__ in str(e) or (kind == "raise" and "crashed" in str(e))
  stopped = time.monotonic()
  shutil.rmtree(workdir, ignore_errors=True)
  return (stopped - min(began) if began else float("inf")), named


# 4. Memory of long runs.

def rss_mb(pid):
  with open(f"/proc/{pid}/status") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1]) / 1024.0
  return float("nan")


RSS_SAMPLE_S = 10.0


def memory(minutes, sample_s=RSS_SAMPLE_S):
  """{mode: (growth after the first 5 minutes, samples)} of two runs side by side."""
  root = tempfile.mkdtemp(prefix="reliability-rss-")
  common = [f"--config={os.path.join(ROOT, 'experiments', 'configs', 'mnist_conditional.py')}:small",
            f"--config.max_minutes={minutes}", "--config.progress=False",
            "--config.checkpoint_every_minutes=5"]  # SPIRAL's learners alone, both modes
  runs = {
      "threaded": common + ["--config.mode=threaded", "--config.env.name=libmypaint",
                            "--config.num_actors=2", "--config.envs_per_actor=8"],
      "anakin": common,
  }
  processes = {mode: subprocess.Popen(
      [sys.executable, "-m", "experiments.train", f"--workdir={os.path.join(root, mode)}",
       *flags], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
      env=dict(os.environ, OMP_NUM_THREADS="1")) for mode, flags in runs.items()}
  samples = {mode: [] for mode in runs}
  start = time.monotonic()
  while any(p.poll() is None for p in processes.values()):
    for mode, process in processes.items():
      if process.poll() is None:
        try:
          samples[mode].append((time.monotonic() - start, rss_mb(process.pid)))
        except OSError:
          pass
    time.sleep(sample_s)
  out = {}
  for mode, points in samples.items():
    growth, start_mb, swing = rss_growth(points)
    out[mode], out[mode + "_mb"], out[mode + "_swing"] = growth, start_mb, swing
    out[mode + "_samples"] = [round(mb) for _, mb in points]
  shutil.rmtree(root, ignore_errors=True)
  return out


def rss_growth(points, settle_s=300.0, window_s=300.0):
  """(growth, first-window median MB, swing) of (seconds, MB) samples: the median of the last
  `window_s` of samples over the median of the first `window_s` after `settle_s`, minus 1; swing
  is the largest sample after `settle_s` over the smallest, minus 1. NaN without enough samples."""
  after = [(t, mb) for t, mb in points if t >= settle_s and np.isfinite(mb)]
  if len(after) < 2 or after[-1][0] - settle_s < 2 * window_s:
    return float("nan"), float("nan"), float("nan")
  first = np.median([mb for t, mb in after if t < settle_s + window_s])
  last = np.median([mb for t, mb in after if t > after[-1][0] - window_s])
  values = [mb for _, mb in after]
  return float(last / first - 1.0), float(first), float(max(values) / min(values) - 1.0)


# 6. The command line.

def one_clear_line(result, created):
  lines = result.stderr.strip().splitlines()
  return (result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr
          and not created)


def cli_errors(cases):
  """(cases tried, unclear ones) for bad `spiral-jax` invocations, each run in an empty dir."""
  unclear = []
  for args in cases:
    cwd = tempfile.mkdtemp(prefix="reliability-cli-")
    result = subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    created = os.listdir(cwd)
    if not one_clear_line(result, created):
      unclear.append((args, result.returncode, result.stderr.strip()[-300:], created))
    shutil.rmtree(cwd, ignore_errors=True)
  return len(cases), unclear


CLI_CASES_QUICK = [
    ["train", "--config=experiments/configs/no_such.py"],
    ["paint", "--agent=mnist_small", "--image=missing.png"],
    ["evaluate", "--workdir=not_a_run"],
]
CLI_CASES = CLI_CASES_QUICK + [
    ["train", "--config=experiments/configs/mnist_conditonal.py"],
    ["train", "--data_dir=/no/such/dir", "--config.data.name=mnist"],
    ["evaluate", "--agent=no_such_agent"],
    ["paint", "--workdir=not_a_run", "--image=x.png"],
    ["render", "--program=missing.json"],
    ["view", "--workdir=not_a_run"],
    ["evaluate", "--agent=mnist_small", "--dataset=folder", "--data_dir=/no/such/dir"],
]


# 7. Hostile files.

def hostile_files(directory):
  """(name, path, how to open it) for every broken file; each opener must raise one clear
  error naming the file."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from environments import paint_actions  # pylint: disable=import-outside-toplevel
  from environments import programs  # pylint: disable=import-outside-toplevel
  from experiments import paint  # pylint: disable=import-outside-toplevel
  from experiments import setups  # pylint: disable=import-outside-toplevel
  from spiral_jax.data import datasets  # pylint: disable=import-outside-toplevel
  path = lambda *parts: os.path.join(directory, *parts)
  cases = []

  # MNIST IDX files: truncated, wrong magic, corrupt gzip.
  images = np.zeros((3, 28, 28), np.uint8)
  header = struct.pack(">IIII", 0x803, 3, 28, 28)
  variants = {"truncated": header + images.tobytes()[:100],
              "wrong_magic": struct.pack(">IIII", 0x1234, 3, 28, 28) + images.tobytes(),
              "huge_count": struct.pack(">IIII", 0x803, 10**9, 28, 28) + images.tobytes()}
  for name, payload in list(variants.items()) + [("corrupt_gzip", None)]:
    folder = path(f"mnist_{name}")
    os.makedirs(folder)
    for split in ("train", "t10k"):
      with open(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(gzip.compress(struct.pack(">II", 0x801, 3) + bytes(3)))
      target = os.path.join(folder, f"{split}-images-idx3-ubyte.gz")
      with open(target, "wb") as f:
        f.write(gzip.compress(payload) if payload is not None else b"\x1f\x8b\x08garbage")
    cases.append((f"mnist {name}", os.path.join(folder, "train-images-idx3-ubyte.gz"),
                  lambda folder=folder: datasets.load("mnist", folder, "train", 32, None, True)))

  # Images: not an image, truncated, odd modes, sizes and bit depths (these must paint or fail
  # clearly), a zero-byte file.
  with open(path("not_an_image.png"), "wb") as f:
    f.write(b"this is text, not a PNG")
  Image.new("RGB", (40, 40), "white").save(path("whole.jpg"), quality=90)
  with open(path("whole.jpg"), "rb") as f:
    data = f.read()
  with open(path("truncated.jpg"), "wb") as f:
    f.write(data[:len(data) // 3])
  open(path("empty.png"), "wb").close()
  for name in ("not_an_image.png", "truncated.jpg", "empty.png"):
    cases.append((f"image {name}", path(name),
                  lambda name=name: paint.load_image(path(name), 32, 1)))
  odd = {"sixteen_bit.png": Image.fromarray(np.full((30, 20), 40000, np.uint16)),
         "palette.gif": Image.new("P", (9, 31)),
         "cmyk.jpg": Image.new("CMYK", (50, 50)),
         "one_pixel.png": Image.new("L", (1, 1), 0),
         "wide.png": Image.new("RGBA", (1000, 3)),
         "binary.png": Image.new("1", (28, 28), 1)}
  odd_ok = []
  for name, image in odd.items():
    image.save(path(name))
    try:
      picture = paint.load_image(path(name), 32, 1)
      odd_ok.append(picture.shape == (32, 32, 1) and canvas_ok(picture))
    except ValueError as e:
      odd_ok.append(name in str(e))

  # Programs: malformed JSON, a newer format, out-of-range actions, a path that escapes.
  config = paint_actions.PaintConfig(canvas_size=16, grid_size=4, grayscale=True,
                                     episode_length=2)
  good = json.loads(programs.Program(config, [
      {"flag": 1, "end": (1, 1), "control": (2, 2), "size": 0, "pressure": 0}] * 2).to_json())
  broken = {"malformed.json": "{not json",
            "newer.json": json.dumps(dict(good, format="spiral-jax/painting-program/v9")),
            "out_of_range.json": json.dumps(dict(good, actions=[dict(good["actions"][0],
                                                                     end=[9, 9])])),
            "list.json": "[1, 2, 3]",
            "bad_config.json": json.dumps(dict(good, config=dict(good["config"],
                                                                 canvas_size=-4)))}
  for name, text in broken.items():
    with open(path(name), "w") as f:
      f.write(text)
    cases.append((f"program {name}", path(name), lambda name=name: programs.load(path(name))))

  # Checkpoints: truncated, and one from another config (another canvas size).
  from spiral_jax import training  # pylint: disable=import-outside-toplevel
  run = path("run")
  config = tiny_config(max_updates=1)  # the faulty renderers' run: its programs are compiled
  training.run(config, setups.make_setup(config), run)
  truncated = path("truncated_run")
  shutil.copytree(run, truncated)
  for root, _, files in os.walk(os.path.join(truncated, "checkpoints")):
    for name in files:
      file = os.path.join(root, name)
      with open(file, "rb+") as f:
        f.truncate(os.path.getsize(file) // 2)
  cases.append(("checkpoint truncated", truncated, lambda: setups.load_run(truncated)))
  other = tiny_config(max_updates=2, num_actors=0, **{"env.kwargs.canvas_size": 32})

  def resume_other_config():
    training.run(other, setups.make_setup(other), run, resume=True)
  cases.append(("checkpoint from another config", run, resume_other_config))
  return cases, odd_ok


def bad_files(directory):
  """(files tried, unclear ones): each must raise ValueError, OSError or CheckpointError naming
  the file (or its directory), the errors the command line turns into one line."""
  from spiral_jax import checkpoint as checkpoint_lib  # pylint: disable=import-outside-toplevel
  cases, odd_ok = hostile_files(directory)
  unclear = []
  for name, file, open_it in cases:
    try:
      open_it()
      unclear.append((name, "accepted"))
    except (ValueError, OSError, checkpoint_lib.CheckpointError) as e:
      message = str(e)
      if file not in message and os.path.dirname(file) not in message and (
          os.path.basename(file) not in message):
        unclear.append((name, f"does not name the file: {message[:200]}"))
    except Exception as e:  # pylint: disable=broad-except
      unclear.append((name, f"{type(e).__name__}: {str(e)[:200]}"))
  for ok in odd_ok:
    if not ok:
      unclear.append(("odd image", "neither painted nor a clear error"))
  return len(cases) + len(odd_ok), unclear


FAULT_KINDS = ("raise", "hang", "shape")


def faults(kinds, after_steps=400):
  """The faults section's flat figures: each fault's seconds to a stop, and how many stops did
  not name the environment."""
  out, stops, named = {}, {}, 0
  for kind in kinds:
    stops[kind], was_named = fault(kind, after_steps)
    named += int(was_named)
    out[f"fault_{kind}_stop_s"] = round(stops[kind], 2)
    print(f"fault {kind}: stopped {stops[kind]:.2f} s after it, named: {was_named}", flush=True)
  out["faults"] = len(stops)
  out["faults_unnamed"] = len(stops) - named
  out["fault_stop_s_max"] = round(max(stops.values()), 2)
  return out


def memory_figures(result, minutes):
  """The memory section's flat figures (and each run's per-minute medians, printed)."""
  out = {}
  for mode in ("threaded", "anakin"):
    samples = result.get(mode + "_samples", [])
    per_minute = max(1, round(60.0 / RSS_SAMPLE_S))
    medians = [int(np.median(samples[i:i + per_minute]))
               for i in range(0, len(samples), per_minute)]
    print(f"memory {mode}: per-minute median MB {medians}", flush=True)
    out[f"rss_growth_{mode}"] = round(result.get(mode, float("nan")), 4)
    out[f"rss_swing_{mode}"] = round(result.get(mode + "_swing", float("nan")), 4)
    out[f"rss_mb_{mode}"] = round(result.get(mode + "_mb", float("nan")), 1)
  out["rss_growth"] = max(out["rss_growth_threaded"], out["rss_growth_anakin"])
  out["rss_minutes"] = minutes
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true", help="the tests' short run")
  parser.add_argument("--fuzz_actions", type=int, default=None)
  parser.add_argument("--kills", type=int, default=None)
  parser.add_argument("--rss_minutes", type=float, default=None)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--only", choices=("memory", "faults"), default=None,
                      help="run one section alone (memory: the two long runs; faults: a renderer "
                           "that raises, hangs, or returns a wrong-shaped canvas)")
  args = parser.parse_args()
  # The sections compile the same small programs again and again (each resume, each tiny run):
  # cached on disk, in this process and the runs it starts, they compile once.
  cache = tempfile.mkdtemp(prefix="reliability-jax-cache-")
  os.environ.update(JAX_COMPILATION_CACHE_DIR=cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
  try:
    run_sections(args)
  finally:
    shutil.rmtree(cache, ignore_errors=True)


def run_sections(args):
  if args.only:
    minutes = args.rss_minutes or 30
    out = (memory_figures(memory(minutes), minutes) if args.only == "memory" else
           faults(FAULT_KINDS))
    print(json.dumps(out), flush=True)
    return
  quick = args.quick
  fuzz_actions = args.fuzz_actions or (400 if quick else 100_000)
  num_kills = args.kills if args.kills is not None else (1 if quick else 10)
  rss_minutes = args.rss_minutes if args.rss_minutes is not None else (0 if quick else 30)
  start = time.monotonic()
  out = {"quick": quick}
  problems = []

  memory_result = {}
  memory_thread = None
  if rss_minutes:
    memory_thread = threading.Thread(
        target=lambda: memory_result.update(memory(rss_minutes)), daemon=True)
    memory_thread.start()

  clock = time.monotonic()
  total = {"valid": 0, "rejected": 0, "unexpected": 0}
  for name in ("libmypaint_grey", "libmypaint_colour", "jax_paint", "mujoco_scenes"):
    counts, examples = fuzz(name, fuzz_actions, args.seed)
    for k, v in counts.items():
      out[f"fuzz_{name}_{k}"] = v
      total[k] += v
    problems += [f"fuzz {name}: {e}" for e in examples]
    print(f"fuzz {name}: {counts}", flush=True)
  out["fuzz_actions"] = 4 * fuzz_actions
  out["fuzz_valid"], out["fuzz_rejected"] = total["valid"], total["rejected"]
  out["fuzz_unexpected"] = total["unexpected"]
  out["fuzz_s"] = round(time.monotonic() - clock, 1)

  sections = {}
  clock = time.monotonic()
  out.update(faults(("shape",), after_steps=60) if quick else faults(FAULT_KINDS))
  sections["faults"] = time.monotonic() - clock
  clock = time.monotonic()
  kill_result, kill_problems = kills(num_kills, updates=8 if quick else 30, seed=args.seed,
                                     compare=not quick)
  out.update(kill_result)
  problems += kill_problems
  print(f"kills: {kill_result}", flush=True)

  sections["kills"] = time.monotonic() - clock
  clock = time.monotonic()
  # The quick run leaves the full disk to tests/test_training.py, which checks the same.
  out["full_disk_ok"] = None if quick else full_disk()
  sections["full_disk"] = time.monotonic() - clock
  clock = time.monotonic()

  tried, unclear = cli_errors(CLI_CASES_QUICK if quick else CLI_CASES)
  sections["cli"] = time.monotonic() - clock
  clock = time.monotonic()
  out["cli_errors"], out["cli_errors_unclear"] = tried, len(unclear)
  problems += [f"cli {u}" for u in unclear]

  directory = tempfile.mkdtemp(prefix="reliability-files-")
  tried, unclear = bad_files(directory)
  shutil.rmtree(directory, ignore_errors=True)
  out["bad_files"], out["bad_files_unclear"] = tried, len(unclear)
  sections["files"] = time.monotonic() - clock
  out.update({f"{name}_s": round(seconds, 1) for name, seconds in sections.items()})
  problems += [f"file {u}" for u in unclear]

  if memory_thread is not None:
    memory_thread.join()
    out.update(memory_figures(memory_result, rss_minutes))
  else:
    out["rss_growth"] = None
  out["seconds"] = round(time.monotonic() - start, 1)
  for problem in problems:
    print("problem:", problem, flush=True)
  print(json.dumps(out), flush=True)


if __name__ == "__main__":
  main()
