"""Haiku networks of the SPIRAL agent: the policy and the discriminator."""
