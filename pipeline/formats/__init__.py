"""Blender-free readers and writers: the numpy GLB writer and reader, PNG encoding."""
