"""Torch models of the avatar pipeline (the only package that imports torch)."""
