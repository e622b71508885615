"""The numpy core: the field vocabulary and spec, body model and assembly, skeleton, skinning, anthropometry,
AvatarData, colour, population, presets, files. Imports neither torch nor bpy, nor any other layer."""
