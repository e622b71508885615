"""The comic look in Blender (bpy only here): a toon material and an ink outline for comic avatars.

Material (``toon_material``): two outputs in one node tree.
- target EEVEE: a white Diffuse BSDF through Shader-to-RGB (EEVEE only) and a constant ColorRamp gives three
  cel bands of light; the comic albedo times that band, with screentone dots (a dot screen in window
  coordinates) in the darkest band, emitted as it is.
- target All (Cycles, and what the FBX and glTF exporters read): a matte Principled BSDF with the comic albedo,
  so exported files carry the comic texture.
Outline (``add_outline``): an inverted hull for renders, a Solidify modifier with flipped normals pushed outwards
with a black, back-face-culled material (transparent from behind, the same in Cycles); it is added for a render and
removed after, so exports never see it.
"""

from __future__ import annotations

from typing import Any

import bpy

from pipeline.blender.compat import new_principled_material

BAND_STOPS = ((0.0, 0.55), (0.22, 0.8), (0.5, 1.0))  # Shader-to-RGB value -> band brightness
DOTS_PER_FRAME = 140.0  # screentone dots across the frame's height
OUTLINE_M = 0.004
OUTLINE_MATERIAL = "avatar_comic_outline"
OUTLINE_MODIFIER = "avatar_comic_outline"


def _socket(sockets: Any, identifier: str) -> Any:
    return next(s for s in sockets if s.identifier == identifier)


def _math(tree: Any, op: str, a: Any, b: float | Any, location: tuple[int, int]) -> Any:
    node = tree.nodes.new("ShaderNodeMath")
    node.operation = op
    node.location = location
    tree.links.new(a, node.inputs[0])
    if isinstance(b, float):
        node.inputs[1].default_value = b
    else:
        tree.links.new(b, node.inputs[1])
    return node.outputs[0]


def _mix(tree: Any, blend: str, factor: Any | float, a: Any, b: Any | tuple, location: tuple[int, int]) -> Any:
    node = tree.nodes.new("ShaderNodeMix")
    node.data_type = "RGBA"
    node.blend_type = blend
    node.location = location
    fac = _socket(node.inputs, "Factor_Float")
    if isinstance(factor, float):
        fac.default_value = factor
    else:
        tree.links.new(factor, fac)
    tree.links.new(a, _socket(node.inputs, "A_Color"))
    if isinstance(b, tuple):
        _socket(node.inputs, "B_Color").default_value = b
    else:
        tree.links.new(b, _socket(node.inputs, "B_Color"))
    return _socket(node.outputs, "Result_Color")


def toon_material(name: str, albedo_image: Any, albedo_node_name: str) -> Any:
    """A comic avatar's material: cel bands and screentone in EEVEE, a matte textured BSDF for everything else."""
    mat, tree, bsdf = new_principled_material(name)
    bsdf.inputs["Roughness"].default_value = 1.0
    out_all = next(n for n in tree.nodes if n.type == "OUTPUT_MATERIAL")
    out_all.target = "ALL"
    tex = tree.nodes.new("ShaderNodeTexImage")
    tex.name = albedo_node_name
    tex.image = albedo_image
    tex.location = (-900, 300)
    tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])

    diffuse = tree.nodes.new("ShaderNodeBsdfDiffuse")
    diffuse.location = (-900, -100)
    to_rgb = tree.nodes.new("ShaderNodeShaderToRGB")
    to_rgb.location = (-700, -100)
    tree.links.new(diffuse.outputs["BSDF"], to_rgb.inputs["Shader"])
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    ramp.location = (-500, -100)
    ramp.color_ramp.interpolation = "CONSTANT"
    elements = ramp.color_ramp.elements
    while len(elements) < len(BAND_STOPS):
        elements.new(0.5)
    for el, (pos, level) in zip(elements, BAND_STOPS, strict=True):
        el.position, el.color = pos, (level, level, level, 1.0)
    tree.links.new(to_rgb.outputs["Color"], ramp.inputs["Fac"])
    lit = _mix(tree, "MULTIPLY", 1.0, tex.outputs["Color"], ramp.outputs["Color"], (-200, 100))

    coords = tree.nodes.new("ShaderNodeTexCoord")
    coords.location = (-900, -450)
    sep = tree.nodes.new("ShaderNodeSeparateXYZ")
    sep.location = (-700, -450)
    tree.links.new(coords.outputs["Window"], sep.inputs["Vector"])
    sx = _math(tree, "SINE", _math(tree, "MULTIPLY", sep.outputs["X"], DOTS_PER_FRAME * 0.75 * 6.2832,
                                   (-500, -400)), 0.0, (-350, -400))
    sy = _math(tree, "SINE", _math(tree, "MULTIPLY", sep.outputs["Y"], DOTS_PER_FRAME * 6.2832, (-500, -550)),
               0.0, (-350, -550))
    dots = _math(tree, "GREATER_THAN", _math(tree, "MULTIPLY", sx, sy, (-200, -450)), 0.3, (-50, -450))
    grey = tree.nodes.new("ShaderNodeRGBToBW")
    grey.location = (-300, -250)
    tree.links.new(ramp.outputs["Color"], grey.inputs["Color"])
    shadow = _math(tree, "LESS_THAN", grey.outputs["Val"], (BAND_STOPS[0][1] + BAND_STOPS[1][1]) / 2, (-150, -250))
    ink = _math(tree, "MULTIPLY", _math(tree, "MULTIPLY", dots, shadow, (50, -350)), 0.6, (200, -350))
    drawn = _mix(tree, "MIX", ink, lit, (0.0, 0.0, 0.0, 1.0), (350, 0))
    emit = tree.nodes.new("ShaderNodeEmission")
    emit.location = (550, 0)
    tree.links.new(drawn, emit.inputs["Color"])
    out_eevee = tree.nodes.new("ShaderNodeOutputMaterial")
    out_eevee.location = (750, 0)
    out_eevee.target = "EEVEE"
    tree.links.new(emit.outputs["Emission"], out_eevee.inputs["Surface"])
    return mat


def _outline_material() -> Any:
    mat = bpy.data.materials.get(OUTLINE_MATERIAL)
    if mat is None:
        mat, tree, bsdf = new_principled_material(OUTLINE_MATERIAL)
        out = next(n for n in tree.nodes if n.type == "OUTPUT_MATERIAL")
        emit = tree.nodes.new("ShaderNodeEmission")
        emit.inputs["Color"].default_value = (0.01, 0.008, 0.012, 1.0)
        # Cycles ignores back-face culling: faces seen from behind turn transparent there instead, so Cycles'
        # passes of a comic avatar have the silhouette EEVEE draws
        geometry = tree.nodes.new("ShaderNodeNewGeometry")
        clear = tree.nodes.new("ShaderNodeBsdfTransparent")
        mix = tree.nodes.new("ShaderNodeMixShader")
        tree.links.new(geometry.outputs["Backfacing"], mix.inputs["Fac"])
        tree.links.new(emit.outputs["Emission"], mix.inputs[1])
        tree.links.new(clear.outputs["BSDF"], mix.inputs[2])
        tree.links.new(mix.outputs["Shader"], out.inputs["Surface"])
        tree.nodes.remove(bsdf)
        mat.use_backface_culling = True
    return mat


def add_outline(mesh_obj: Any) -> None:
    """An inverted-hull ink outline on a comic avatar's mesh (``remove_outline`` takes it away)."""
    mats = mesh_obj.data.materials
    mats.append(_outline_material())
    mod = mesh_obj.modifiers.new(OUTLINE_MODIFIER, "SOLIDIFY")
    mod.thickness = OUTLINE_M
    mod.offset = 1.0
    mod.use_flip_normals = True
    mod.use_rim = False
    mod.material_offset = len(mats) - 1


def remove_outline(mesh_obj: Any) -> None:
    mod = mesh_obj.modifiers.get(OUTLINE_MODIFIER)
    if mod is not None:
        mesh_obj.modifiers.remove(mod)
    mats = mesh_obj.data.materials
    idx = mats.find(OUTLINE_MATERIAL)
    if idx >= 0:
        mats.pop(index=idx)
