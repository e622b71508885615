"""The avatar pipeline: numpy core (attributes, body assembly, rigs, anthropometry, export), previews, CLI.

Modules named ``blender_*.py`` are the only ones that import ``bpy``; nothing here imports torch.
"""
