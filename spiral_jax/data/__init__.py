"""Image data for the discriminator and for conditional agents' targets."""
