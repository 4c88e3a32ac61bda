"""Training metrics: a JSONL file, a CSV file and TensorBoard event files, written as they come.

`MetricsWriter(directory)` appends each record (a flat dict of numbers with a "frames" step) to
`metrics.jsonl` and `metrics.csv` (flushed at once, so a killed run keeps what it logged), and to
a TensorBoard event file in `directory/tensorboard` (scalar summaries; `tensorboard --logdir` reads
it). The event file is written here directly (TFRecord framing of `Event` protos), so TensorFlow is
not needed. A resumed run first drops the records logged after the checkpoint it restarts from
(`drop_after`), then appends to the same files, so each frame count appears once.
"""

import csv
import io
import json
import math
import os
import socket
import struct
import time

# TensorBoard event files.

def _crc32c_table():
  table = []
  for i in range(256):
    crc = i
    for _ in range(8):
      crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    table.append(crc)
  return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
  crc = 0xFFFFFFFF
  for byte in data:
    crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def _masked_crc(data):
  crc = crc32c(data)
  return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value):
  out = bytearray()
  while True:
    bits = value & 0x7F
    value >>= 7
    if value:
      out.append(bits | 0x80)
    else:
      out.append(bits)
      return bytes(out)


def _field(number, wire_type):
  return _varint((number << 3) | wire_type)


def _length_delimited(number, payload):
  return _field(number, 2) + _varint(len(payload)) + payload


def event_bytes(wall_time, step, scalars=None, file_version=None):
  """A serialized tensorflow `Event` proto: wall_time (1), step (2), file_version (3) or a
  Summary (5) of simple_value scalars (Summary.Value: tag 1, simple_value 2)."""
  out = _field(1, 1) + struct.pack("<d", wall_time) + _field(2, 0) + _varint(int(step))
  if file_version is not None:
    out += _length_delimited(3, file_version.encode())
  if scalars:
    values = b"".join(
        _length_delimited(1, _length_delimited(1, tag.encode()) + _field(2, 5)
                          + struct.pack("<f", float(value)))
        for tag, value in scalars.items())
    out += _length_delimited(5, values)
  return out


def record_bytes(data):
  """TFRecord framing: length, its masked CRC32C, the data, its masked CRC32C."""
  length = struct.pack("<Q", len(data))
  return (length + struct.pack("<I", _masked_crc(length)) + data
          + struct.pack("<I", _masked_crc(data)))


def read_records(path):
  """The records of a TFRecord file, checking both CRCs (for tests and tools)."""
  records = []
  with open(path, "rb") as f:
    data = f.read()
  offset = 0
  while offset < len(data):
    length_bytes = data[offset:offset + 8]
    (length,) = struct.unpack("<Q", length_bytes)
    (length_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
    payload = data[offset + 12:offset + 12 + length]
    (payload_crc,) = struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])
    if length_crc != _masked_crc(length_bytes) or payload_crc != _masked_crc(payload):
      raise ValueError(f"{path}: corrupt record at byte {offset}.")
    records.append(payload)
    offset += 16 + length
  return records


class TensorBoardWriter:
  """Scalar summaries in a TensorBoard event file."""

  def __init__(self, directory):
    os.makedirs(directory, exist_ok=True)
    name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}"
    self.path = os.path.join(directory, name)
    self._file = open(self.path, "ab")
    self._file.write(record_bytes(event_bytes(time.time(), 0, file_version="brain.Event:2")))
    self._file.flush()

  def write(self, step, scalars):
    self._file.write(record_bytes(event_bytes(time.time(), step, scalars)))
    self._file.flush()

  def close(self):
    self._file.close()


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
      _replace(self.jsonl_path, "".join(json.dumps(r) + "\n" for r in kept))
      if self._fields is not None:
        with open(self.csv_path, encoding="utf-8", newline="") as f:
          rows = list(csv.DictReader(f))
        _replace(self.csv_path, _csv_text(self._fields, [
            r for r in rows if float(r.get("frames") or 0) <= frames]))
    self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")

  def close(self):
    self._jsonl.close()
    if self._csv_file is not None:
      self._csv_file.close()
    if self._tensorboard is not None:
      self._tensorboard.close()


def _replace(path, text):
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
