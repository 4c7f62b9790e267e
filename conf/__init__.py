"""Shipped data: YAML options (layers/, init/, model/) and the zoo maps (zoo/)."""
