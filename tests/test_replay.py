"""The discriminator's replay: bounded, uniform, thread-safe, restorable."""

import threading

from absl.testing import absltest
import numpy as np

from spiral_jax import replay as replay_lib


def batch_of(first, n, shape=(2, 2, 1)):
  """n items whose every pixel holds its own serial number."""
  return np.arange(first, first + n, dtype=np.float32)[:, None, None, None] * np.ones(shape)


class ReplayTest(absltest.TestCase):

  def test_keeps_only_the_newest_items(self):
    replay = replay_lib.Replay(capacity=10, item_shape=(2, 2, 1))
    for start in range(0, 23, 4):  # 6 batches of 4: items 0 .. 23
      replay.add(batch_of(start, 4))
    self.assertLen(replay, 10)
    self.assertEqual(replay.total_added, 24)
    sample = replay.sample(np.random.default_rng(0), 2000)[:, 0, 0, 0]
    self.assertEqual(set(sample.astype(int)), set(range(14, 24)))
    counts = np.bincount(sample.astype(int) - 14, minlength=10)
    self.assertGreater(counts.min(), 120)  # uniform: about 200 each

  def test_a_batch_larger_than_the_buffer_keeps_its_newest_items(self):
    replay = replay_lib.Replay(capacity=5, item_shape=(2, 2, 1))
    replay.add(batch_of(0, 3))
    replay.add(batch_of(3, 12))
    self.assertEqual(replay.total_added, 15)
    sample = replay.sample(np.random.default_rng(0), 500)[:, 0, 0, 0].astype(int)
    self.assertEqual(set(sample), set(range(10, 15)))

  def test_memory_stays_bounded(self):
    replay = replay_lib.Replay(capacity=20 * 4, item_shape=(8, 8, 3))
    before = replay._items.nbytes  # pylint: disable=protected-access
    for i in range(500):
      replay.add(np.random.default_rng(i).uniform(size=(4, 8, 8, 3)))
    self.assertEqual(replay._items.nbytes, before)  # pylint: disable=protected-access
    self.assertLen(replay, 80)

  def test_bad_input_is_refused(self):
    replay = replay_lib.Replay(capacity=4, item_shape=(2, 2, 1))
    with self.assertRaisesRegex(ValueError, "empty replay"):
      replay.sample(np.random.default_rng(0), 1)
    with self.assertRaisesRegex(ValueError, r"items of shape \(2, 2, 1\)"):
      replay.add(np.zeros((3, 2, 2, 3)))
    with self.assertRaisesRegex(ValueError, "does not fit"):
      replay.restore({"items": np.zeros((2, 5, 5, 1)), "size": 2, "next": 2, "added": 2})

  def test_state_restores_exactly(self):
    replay = replay_lib.Replay(capacity=6, item_shape=(2, 2, 1))
    replay.add(batch_of(0, 4))
    replay.add(batch_of(4, 4))
    copy = replay_lib.Replay(capacity=6, item_shape=(2, 2, 1))
    copy.restore(replay.state())
    np.testing.assert_array_equal(copy.sample(np.random.default_rng(3), 50),
                                  replay.sample(np.random.default_rng(3), 50))
    replay.add(batch_of(8, 1))
    copy.add(batch_of(8, 1))
    np.testing.assert_array_equal(copy.state()["items"], replay.state()["items"])
    self.assertEqual(copy.total_added, 9)

  def test_adding_and_sampling_from_two_threads(self):
    replay = replay_lib.Replay(capacity=64, item_shape=(2, 2, 1))
    replay.add(batch_of(0, 8))
    errors = []

    def writer():
      for i in range(200):
        replay.add(batch_of(8 + 8 * i, 8))

    def reader():
      rng = np.random.default_rng(0)
      for _ in range(200):
        sample = replay.sample(rng, 16)
        # Each item is whole: all its pixels carry the same serial number.
        if not np.all(sample == sample[:, :1, :1, :1]):
          errors.append("torn item")

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
      t.start()
    for t in threads:
      t.join()
    self.assertEqual(errors, [])
    self.assertEqual(replay.total_added, 8 + 200 * 8)


if __name__ == "__main__":
  absltest.main()
