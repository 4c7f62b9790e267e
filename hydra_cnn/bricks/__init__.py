"""Layer building bricks: builders, registries' members and small layer classes."""
