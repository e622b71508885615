"""Previews without Blender: pyrender offscreen renders posed on the CPU, and contact sheets."""
