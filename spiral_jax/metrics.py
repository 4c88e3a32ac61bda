"""Training metrics: a JSONL file, a CSV file and TensorBoard event files, written as they come.

`MetricsWriter(directory)` appends each record (a flat dict of numbers with a "frames" step) to
`metrics.jsonl` and `metrics.csv` (flushed at once, so a killed run keeps what it logged), and to
a TensorBoard event file in `directory/tensorboard` (scalar summaries written by tensorboardX, so
TensorFlow is not needed; `tensorboard --logdir` reads it, and the files of older runs). A resumed
run first drops the records logged after the checkpoint it restarts from (`drop_after`), then
appends to the same files, so each frame count appears once.
"""

import csv
import io
import json
import math
import os
import time


class TensorBoardWriter:
  """Scalar summaries in a TensorBoard event file, encoded by tensorboardX (no TensorFlow).

  tensorboardX's events writer is used directly, not its SummaryWriter: that one writes from a
  background thread whose flush() does not wait, so a killed run would lose its last records.
  """

  def __init__(self, directory):
    from tensorboardX import event_file_writer  # pylint: disable=import-outside-toplevel
    os.makedirs(directory, exist_ok=True)
    # Files are named by the second: the nanoseconds and the process id keep a quickly restarted
    # run's writer from truncating the file of the one before, and keep the files in time order.
    self._events = event_file_writer.EventsWriter(
        os.path.join(directory, "events"), f".{time.time_ns() % 10**9:09d}.{os.getpid()}")

  def write(self, step, scalars):
    from tensorboardX import summary  # pylint: disable=import-outside-toplevel
    from tensorboardX.proto import event_pb2  # pylint: disable=import-outside-toplevel
    for tag, value in scalars.items():
      self._events.write_event(event_pb2.Event(wall_time=time.time(), step=int(step),
                                               summary=summary.scalar(tag, float(value))))
    self._events.flush()

  def close(self):
    self._events.close()


# All writers together.

def _number(value):
  value = float(value)
  return value if math.isfinite(value) else None


class MetricsWriter:
  """Appends flat numeric records to metrics.jsonl, metrics.csv and TensorBoard."""

  def __init__(self, directory, tensorboard=True):
    os.makedirs(directory, exist_ok=True)
    self.directory = directory
    self.jsonl_path = os.path.join(directory, "metrics.jsonl")
    self.csv_path = os.path.join(directory, "metrics.csv")
    self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")
    self._csv_file = None
    self._csv = None
    self._fields = None
    if os.path.exists(self.csv_path) and os.path.getsize(self.csv_path):
      with open(self.csv_path, encoding="utf-8") as f:
        self._fields = next(csv.reader(f))
    self._tensorboard = TensorBoardWriter(os.path.join(directory, "tensorboard")) if (
        tensorboard) else None

  def write(self, record):
    record = {name: _number(value) for name, value in record.items()}
    self._jsonl.write(json.dumps(record) + "\n")
    self._jsonl.flush()
    if self._fields is None:
      self._fields = list(record)
    if self._csv is None:
      new = not os.path.exists(self.csv_path) or not os.path.getsize(self.csv_path)
      self._csv_file = open(self.csv_path, "a", encoding="utf-8", newline="")
      self._csv = csv.DictWriter(self._csv_file, fieldnames=self._fields, extrasaction="ignore")
      if new:
        self._csv.writeheader()
    self._csv.writerow(record)
    self._csv_file.flush()
    if self._tensorboard is not None:
      self._tensorboard.write(int(record.get("frames") or 0),
                              {k: v for k, v in record.items() if v is not None and k != "frames"})

  def drop_after(self, frames):
    """Removes the records with more than `frames` frames from metrics.jsonl and metrics.csv
    (a run restarting from a checkpoint logs those steps again). Each file is replaced whole."""
    self._jsonl.close()
    if self._csv_file is not None:
      self._csv_file.close()
      self._csv_file = self._csv = None
    records = read_jsonl(self.jsonl_path)
    kept = [r for r in records if (r.get("frames") or 0) <= frames]
    if len(kept) < len(records):
      write_atomically(self.jsonl_path, "".join(json.dumps(r) + "\n" for r in kept))
      if self._fields is not None:
        with open(self.csv_path, encoding="utf-8", newline="") as f:
          rows = list(csv.DictReader(f))
        write_atomically(self.csv_path, _csv_text(self._fields, [
            r for r in rows if float(r.get("frames") or 0) <= frames]))
    self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")

  def close(self):
    self._jsonl.close()
    if self._csv_file is not None:
      self._csv_file.close()
    if self._tensorboard is not None:
      self._tensorboard.close()


def write_atomically(path, text):
  """Writes text to path through a temporary file and a rename, so that a reader (or a crash)
  never sees a half-written file."""
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8", newline="") as f:
    f.write(text)
  os.replace(tmp, path)


def _csv_text(fields, rows):
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
  writer.writeheader()
  writer.writerows(rows)
  return out.getvalue()


def read_jsonl(path):
  """The records of a metrics.jsonl file (a torn last line, from a killed run, is skipped)."""
  records = []
  with open(path, encoding="utf-8") as f:
    for line in f:
      try:
        records.append(json.loads(line))
      except json.JSONDecodeError:
        continue
  return records
