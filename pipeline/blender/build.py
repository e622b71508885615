"""AvatarData -> Blender objects (bpy only here): an armature, a skinned mesh with UVs and a material.

Layout: one collection per avatar holding ``<name>_rig`` (armature object, rest pose = the decoded body) and
``<name>`` (mesh object parented to it, vertex groups per bone, Armature modifier). The request, seed, rig and
measurements are stored as custom properties on the armature object (``avatar_*``) so the avatar can be
regenerated in place: ``update_avatar`` keeps object names, the armature's action and its keyframes.
Arrays go through ``foreach_set``; the only Python loops run over bones and over distinct weight values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import bpy
import numpy as np
from mathutils import Matrix

from pipeline.blender.compat import new_principled_material, set_smooth_shading
from pipeline.core.avatar_data import PROPERTY_PREFIX, ROUGHNESS_WITHOUT_MAP, AvatarData, stored_properties
from pipeline.core.body_model import BodyModel
from pipeline.core.colour import REC709_LUMA
from pipeline.core.twist import TWIST_BONES
from pipeline.formats.png import encode_png

PROP_PREFIX = PROPERTY_PREFIX
ALBEDO_NODE = "avatar_albedo"
NORMAL_NODE = "avatar_normal"
ROUGHNESS_NODE = "avatar_roughness"
# skin's subsurface mean free path per channel (relative, red scatters farthest) and its scale in metres for
# light skin; melanin absorbs in the epidermis, so darker skin scatters visibly less (scale down to half)
SSS_RADIUS = (1.0, 0.35, 0.2)
SSS_SCALE_M = 0.004


def reset_scene(full: bool = True) -> None:
    """An empty scene, as every batch item starts from. ``full``: factory settings (~60 ms; the first time in a
    process); otherwise every object and the data it used is removed (~a few ms), which leaves the same state."""
    if full or bpy.context.scene is None:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        return
    ids = [*bpy.data.objects, *bpy.data.meshes, *bpy.data.armatures, *bpy.data.materials, *bpy.data.images,
           *bpy.data.actions, *bpy.data.collections]
    if ids:
        bpy.data.batch_remove(ids)


def _mesh_from_avatar(avatar: AvatarData, name: str) -> Any:
    """A new mesh datablock: vertices, triangles, per-corner UVs, smooth shading.

    Written through the mesh's attribute arrays (``position``, ``.corner_vert``, the UV map), which take the
    numpy buffers directly: 2.6 ms for 13,718 vertices where ``vertices``/``loops.foreach_set`` plus
    ``validate()`` took 14 ms. AvatarData's invariants already guarantee what ``validate()`` would repair;
    ``calc_edges`` builds the edges it used to.
    """
    mesh = bpy.data.meshes.new(name)
    f = avatar.faces.astype(np.int32)
    mesh.vertices.add(avatar.n_vertices)
    mesh.attributes["position"].data.foreach_set("vector", avatar.vertices.astype(np.float32).ravel())
    mesh.loops.add(f.size)
    mesh.attributes[".corner_vert"].data.foreach_set("value", f.ravel())
    mesh.polygons.add(f.shape[0])
    mesh.polygons.foreach_set("loop_start", np.arange(0, f.size, 3, dtype=np.int32))
    uv = mesh.uv_layers.new(name="UVMap")
    mesh.attributes[uv.name].data.foreach_set("vector", avatar.uvs.astype(np.float32).ravel())
    mesh.update(calc_edges=True)
    set_smooth_shading(mesh)
    return mesh


def _assign_weights(obj: Any, avatar: AvatarData) -> None:
    _assign_groups(obj, avatar.bone_names, avatar.skin_indices, avatar.skin_weights)


def _assign_groups(obj: Any, bone_names: Sequence[str], indices: np.ndarray, weights: np.ndarray) -> None:
    """One vertex group per bone, filled by runs of equal weight (not per vertex). indices, weights: (V, k).

    Blender has no bulk setter for deform weights, so each run of equal (bone, weight) is one
    ``VertexGroup.add`` call (about 15,000 for 13,718 vertices); the loop body is kept to that call.
    """
    obj.vertex_groups.clear()
    adds = [obj.vertex_groups.new(name=n).add for n in bone_names]
    idx = indices.ravel()
    w = weights.ravel()
    vert = np.repeat(np.arange(indices.shape[0]), indices.shape[1])
    keep = w > 0
    idx, w, vert = idx[keep], w[keep], vert[keep]
    order = np.lexsort((w, idx))
    idx, w, vert = idx[order], w[order], vert[order]
    starts = np.concatenate([[0], np.flatnonzero((idx[1:] != idx[:-1]) | (w[1:] != w[:-1])) + 1])
    ends = [*starts[1:].tolist(), len(w)]
    verts = vert.tolist()
    for s, e, j, value in zip(starts.tolist(), ends, idx[starts].tolist(), w[starts].tolist(), strict=True):
        adds[j](verts[s:e], value, "REPLACE")


def dense_group_weights(mesh_obj: Any, bone_names: Sequence[str]) -> np.ndarray:
    """(V, J) weights of the mesh's vertex groups in ``bone_names`` order (groups of other names ignored).

    A Python loop over vertices (Blender has no bulk read of deform weights): for exports, not hot paths.
    """
    column = {g.index: bone_names.index(g.name) for g in mesh_obj.vertex_groups if g.name in bone_names}
    dense = np.zeros((len(mesh_obj.data.vertices), len(bone_names)))
    for v in mesh_obj.data.vertices:
        for g in v.groups:
            j = column.get(g.group)
            if j is not None:
                dense[v.index, j] = g.weight
    return dense


def default_groups_unchanged(arm_obj: Any, body: BodyModel) -> bool:
    """True when the avatar's vertex groups still hold the rig's weights pruned to its recorded influences
    (nobody painted them since they were built), to float32 precision."""
    from pipeline.core.skinning import dense_weights, prune_weights

    rig = body.rig(arm_obj[PROP_PREFIX + "rig"])
    idx, w = prune_weights(rig.skin_indices, rig.skin_weights, int(arm_obj.get(PROP_PREFIX + "influences", 4)))
    names = rig_order_names(arm_obj)
    return bool(np.allclose(dense_group_weights(find_mesh(arm_obj), names), dense_weights(idx, w, len(names)),
                            atol=1e-6))


def rig_order_names(arm_obj: Any) -> list[str]:
    """The armature's bone names in the order of its rig's bones (the order skin indices refer to), as built."""
    stored = arm_obj.get(PROP_PREFIX + "bone_names")
    return json.loads(stored) if stored else [b.name for b in arm_obj.data.bones]


def set_influences(arm_obj: Any, body: BodyModel, influences: int) -> None:
    """Re-prune the avatar's skin to ``influences`` per vertex (``skinning.prune_weights``, the core function)
    and refill its vertex groups; for exporting to a target with another k."""
    from pipeline.core.skinning import prune_weights

    rig = body.rig(arm_obj[PROP_PREFIX + "rig"])
    idx, w = prune_weights(rig.skin_indices, rig.skin_weights, influences)
    _assign_groups(find_mesh(arm_obj), rig_order_names(arm_obj), idx, w)
    arm_obj[PROP_PREFIX + "influences"] = int(influences)


def _material(avatar: AvatarData, name: str) -> Any:
    """Principled BSDF: base colour from the albedo (sRGB), roughness and tangent-space normal maps (non-colour)
    when the avatar has them, skin subsurface scattering with a radius that follows the tone."""
    mat, tree, bsdf = new_principled_material(name)
    bsdf.inputs["Roughness"].default_value = ROUGHNESS_WITHOUT_MAP
    lum = float(np.dot(avatar.base_color[:3], REC709_LUMA))
    if "Subsurface Weight" in bsdf.inputs:
        bsdf.inputs["Subsurface Weight"].default_value = 1.0
        bsdf.inputs["Subsurface Radius"].default_value = SSS_RADIUS
        bsdf.inputs["Subsurface Scale"].default_value = SSS_SCALE_M * float(np.clip(0.5 + lum, 0.5, 1.0))
    if avatar.texture is None:
        bsdf.inputs["Base Color"].default_value = [float(c) for c in avatar.base_color]
        return mat
    node = _image_node(tree, ALBEDO_NODE, (-500, 300), _image(avatar.texture, f"{avatar.name}_albedo", "sRGB"))
    tree.links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
    if avatar.roughness_map is not None:
        rough = _image_node(tree, ROUGHNESS_NODE, (-500, 0),
                            _image(avatar.roughness_map, f"{avatar.name}_roughness", "Non-Color"))
        tree.links.new(rough.outputs["Color"], bsdf.inputs["Roughness"])
    if avatar.normal_map is not None:
        nrm = _image_node(tree, NORMAL_NODE, (-700, -300),
                          _image(avatar.normal_map, f"{avatar.name}_normal", "Non-Color"))
        nmap = tree.nodes.new("ShaderNodeNormalMap")
        nmap.location = (-300, -300)
        nmap.space = "TANGENT"
        tree.links.new(nrm.outputs["Color"], nmap.inputs["Color"])
        tree.links.new(nmap.outputs["Normal"], bsdf.inputs["Normal"])
    return mat


def _image_node(tree: Any, name: str, location: tuple[int, int], image: Any) -> Any:
    node = tree.nodes.new("ShaderNodeTexImage")
    node.name = name
    node.location = location
    node.image = image
    return node


def _image(tex: np.ndarray, name: str, colorspace: str) -> Any:
    """An image whose packed file is the map's PNG: no pixel upload, no re-encoding by Blender, and the
    exporters (glTF, FBX) carry the same bytes. ``colorspace``: "sRGB" for colour, "Non-Color" for data."""
    h, w = tex.shape[:2]
    png = encode_png(np.asarray(tex), srgb=colorspace == "sRGB")
    img = bpy.data.images.new(name, width=w, height=h, alpha=tex.ndim == 3 and tex.shape[2] == 4)
    img.pack(data=png, data_len=len(png))
    img.source = "FILE"
    img.colorspace_settings.name = colorspace
    return img


def _replace_albedo(mesh_obj: Any, avatar: AvatarData) -> None:
    """Put the new maps into the avatar's own image nodes (the rest of a user-edited material is kept)."""
    maps = ((ALBEDO_NODE, avatar.texture, "albedo", "sRGB"), (NORMAL_NODE, avatar.normal_map, "normal", "Non-Color"),
            (ROUGHNESS_NODE, avatar.roughness_map, "roughness", "Non-Color"))
    for mat in mesh_obj.data.materials:
        if not (mat and mat.node_tree):
            continue
        for node_name, tex, label, colorspace in maps:
            node = mat.node_tree.nodes.get(node_name)
            if node is None or tex is None:
                continue
            old, name = node.image, node.image.name if node.image else f"{avatar.name}_{label}"
            node.image = _image(tex, name, colorspace)
            if old is not None and old.users == 0:
                bpy.data.images.remove(old)
            node.image.name = name


def _build_bones(arm_obj: Any, avatar: AvatarData) -> None:
    """(Re)create edit bones from heads, tails and rest matrices (rolls), keeping existing bone names."""
    view_layer = bpy.context.view_layer
    previous = view_layer.objects.active
    view_layer.objects.active = arm_obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        ebones = arm_obj.data.edit_bones
        wanted = set(avatar.bone_names)
        for eb in list(ebones):
            if eb.name not in wanted:
                ebones.remove(eb)
        bones = []
        for j, name in enumerate(avatar.bone_names):
            eb = ebones.get(name) or ebones.new(name)
            eb.use_connect = False
            eb.head = avatar.bone_heads[j].tolist()
            eb.tail = avatar.bone_tails[j].tolist()
            eb.matrix = Matrix(avatar.bone_rest[j].tolist())  # sets the roll; keeps head and length
            bones.append(eb)
        for j, eb in enumerate(bones):
            p = int(avatar.bone_parents[j])
            eb.parent = bones[p] if p >= 0 else None
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous


TWIST_CONSTRAINT = "avatar_twist"


def _twist_constraints(arm_obj: Any, avatar: AvatarData) -> None:
    """Drive each twist bone by its rule (``pipeline.core.twist``): a Transformation constraint mapping the
    driver's roll about its own Y axis (swing-twist) to ``fraction`` of it about the twist bone's Y axis, in local
    spaces, replacing any rotation the twist bone is given. Evaluated live in Blender and baked into exported
    animations."""
    for t in TWIST_BONES:
        pb = arm_obj.pose.bones.get(t.name)
        if pb is None or t.driver not in avatar.bone_names:
            continue
        old = pb.constraints.get(TWIST_CONSTRAINT)
        if old is not None:
            pb.constraints.remove(old)
        c = pb.constraints.new("TRANSFORM")
        c.name = TWIST_CONSTRAINT
        c.target, c.subtarget = arm_obj, t.driver
        c.target_space = c.owner_space = "LOCAL"
        c.map_from, c.map_to = "ROTATION", "ROTATION"
        c.from_rotation_mode = "SWING_TWIST_Y"
        c.from_min_y_rot, c.from_max_y_rot = -math.pi, math.pi
        c.to_min_y_rot, c.to_max_y_rot = -t.fraction * math.pi, t.fraction * math.pi
        c.use_motion_extrapolate = True
        c.mix_mode_rot = "REPLACE"


def _store_properties(arm_obj: Any, avatar: AvatarData) -> None:
    for key, value in stored_properties(avatar).items():
        arm_obj[key] = value


def build_avatar(avatar: AvatarData, scene: Any | None = None) -> tuple[Any, Any]:
    """Create the avatar in a new collection of ``scene`` (default: the current scene).

    Returns:
        (armature object, mesh object).
    """
    scene = scene or bpy.context.scene
    coll = bpy.data.collections.new(avatar.name)
    scene.collection.children.link(coll)
    arm = bpy.data.armatures.new(f"{avatar.name}_rig")
    arm_obj = bpy.data.objects.new(f"{avatar.name}_rig", arm)
    coll.objects.link(arm_obj)
    _build_bones(arm_obj, avatar)
    _twist_constraints(arm_obj, avatar)
    mesh_obj = bpy.data.objects.new(avatar.name, _mesh_from_avatar(avatar, avatar.name))
    coll.objects.link(mesh_obj)
    mesh_obj.parent = arm_obj
    mod = mesh_obj.modifiers.new("Armature", "ARMATURE")
    mod.object = arm_obj
    _assign_weights(mesh_obj, avatar)
    if avatar.comic_style is not None and avatar.texture is not None:
        from pipeline.blender.toon import toon_material

        albedo = _image(avatar.texture, f"{avatar.name}_albedo", "sRGB")
        mesh_obj.data.materials.append(toon_material(f"{avatar.name}_comic", albedo, ALBEDO_NODE))
    else:
        mesh_obj.data.materials.append(_material(avatar, f"{avatar.name}_skin"))
    _store_properties(arm_obj, avatar)
    return arm_obj, mesh_obj


def find_mesh(arm_obj: Any) -> Any:
    """The skinned mesh object of an avatar armature."""
    for child in arm_obj.children:
        if child.type == "MESH":
            return child
    raise ValueError(f"{arm_obj.name!r} has no avatar mesh")


def update_avatar(arm_obj: Any, avatar: AvatarData) -> tuple[Any, Any]:
    """Regenerate an avatar in place: same objects and names, new body; the armature's action is untouched."""
    if arm_obj.get(PROP_PREFIX + "name") is None:
        raise ValueError(f"{arm_obj.name!r} is not an avatar armature (no {PROP_PREFIX}name property)")
    mesh_obj = find_mesh(arm_obj)
    _build_bones(arm_obj, avatar)
    _twist_constraints(arm_obj, avatar)
    old = mesh_obj.data
    materials = list(old.materials)
    mesh_obj.data = _mesh_from_avatar(avatar, old.name)
    for m in materials:
        mesh_obj.data.materials.append(m)
    bpy.data.meshes.remove(old)
    mesh_obj.data.name = avatar.name
    _assign_weights(mesh_obj, avatar)
    _replace_albedo(mesh_obj, avatar)
    _store_properties(arm_obj, avatar)
    return arm_obj, mesh_obj
