"""The avatar pipeline. Layers: ``core`` (numpy), ``formats`` (Blender-free files), ``blender`` (bpy),
``preview`` (pyrender), ``jobs`` (wires them with the torch ``models``); entry points ``cli``, ``run``,
``__main__``."""
