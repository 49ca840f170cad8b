"""Archai's shipped YAML configs, installed as the package data ``archai.confs``."""
