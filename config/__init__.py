"""Configuration: defaults, then the instance file, then PORTAL_* environment, then test overrides."""
