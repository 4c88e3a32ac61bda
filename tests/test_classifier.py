"""The MNIST classifier behind `recognised`: the shipped weights, and training."""

import os

from absl.testing import absltest
import numpy as np

from spiral_jax import classifier as classifier_lib
from spiral_jax.data import datasets


class ClassifierTest(absltest.TestCase):

  def test_shipped_classifier_reads_test_digits_and_not_blank_paper(self):
    clf = classifier_lib.load()
    self.assertGreaterEqual(clf.info["test_accuracy"], 0.99)
    images, labels = datasets.load_labelled("mnist_sample", split="test", size=32)
    self.assertGreaterEqual(classifier_lib.recognised(clf, images, labels), 0.98)
    # The same digits at the paper's canvas size, and in colour.
    big, _ = datasets.load_labelled("mnist_sample", split="test[:200]", size=64)
    self.assertGreaterEqual(classifier_lib.recognised(clf, np.repeat(big, 3, -1), labels[:200]),
                            0.97)
    blank = np.ones_like(images)
    self.assertLess(classifier_lib.recognised(clf, blank, labels), 0.3)
    with self.assertRaisesRegex(ValueError, "square canvases"):
      clf.predict(images[:, :20])

  def test_sample_quality_of_real_digits_and_of_a_one_class_generator(self):
    clf = classifier_lib.load()
    images, labels = datasets.load_labelled("mnist_sample", split="test", size=32)
    real = classifier_lib.sample_quality(clf, images)
    self.assertGreater(real["confident"], 0.9)
    self.assertGreater(real["class_min_share"], 0.05)  # every digit is in the test sample
    shares = [real[f"class_share_{c}"] for c in range(10)]
    self.assertAlmostEqual(sum(shares), 1.0, places=6)
    np.testing.assert_allclose(shares, np.bincount(labels, minlength=10) / len(labels), atol=0.02)
    ones = classifier_lib.sample_quality(clf, images[labels == 1])
    self.assertGreater(ones["class_share_1"], 0.95)
    self.assertEqual(ones["class_min_share"], 0.0)  # paints only ones: not a success
    self.assertEqual(ones["num_images"], int(np.sum(labels == 1)))
    self.assertLess(classifier_lib.sample_quality(clf, np.ones_like(images[:50]))["confident"],
                    real["confident"])

  def test_training_learns_and_saves(self):
    images, labels = datasets.load_labelled("mnist_sample", split="train[:1500]", size=32)
    test, test_labels = datasets.load_labelled("mnist_sample", split="test[:300]", size=32)
    clf = classifier_lib.train(images, labels, test, test_labels, epochs=1, batch_size=64)
    self.assertGreater(clf.info["test_accuracy"], 0.6)  # chance is 0.1
    path = os.path.join(self.create_tempdir().full_path, "clf.npz")
    clf.save(path)
    again = classifier_lib.load(path)
    self.assertEqual(again.info, clf.info)
    # float16 weights: the same labels but for the odd borderline digit.
    self.assertGreaterEqual(np.mean(again.predict(test)[0] == clf.predict(test)[0]), 0.99)
    with self.assertRaisesRegex(FileNotFoundError, "train_classifier"):
      classifier_lib.load(os.path.join(self.create_tempdir().full_path, "nothing.npz"))


if __name__ == "__main__":
  absltest.main()
