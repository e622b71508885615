"""Offscreen previews with pyrender (EGL, no display).

pyrender draws what it is given, so bodies are posed on the CPU first (``pipeline.core.poses``). Cameras are
orthographic with a known scale (``frame_height_m`` over the image height) so that tests can compare silhouettes
with measurements; views and framing are the ones Blender's previews use (``pipeline.core.views``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from pipeline.core.avatar_data import AvatarData
from pipeline.core.axes import to_y_up
from pipeline.core.poses import posed_vertices, relaxed_arms, stride
from pipeline.core.views import BACKGROUND, FRONT, SIDE, View, frame_centre, frame_height


class Renderer:
    """A reusable pyrender offscreen renderer (creating the GL context costs ~0.4 s; frames then ~10 ms)."""

    def __init__(self, width: int = 384, height: int = 512) -> None:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        import pyrender

        self._pyrender = pyrender
        self.width, self.height = width, height
        self._r = pyrender.OffscreenRenderer(width, height)

    def close(self) -> None:
        self._r.delete()
        if os.environ.get("PYOPENGL_PLATFORM") == "egl":
            # pyrender leaves its deleted context current on this thread (its make_uncurrent does nothing), and
            # the next user of EGL in the process then finds a current context on a terminated display: Blender's
            # EEVEE aborts the process there ("No provider of eglGetCurrentContext found")
            from OpenGL.EGL import eglReleaseThread

            eglReleaseThread()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, vertices: np.ndarray, faces: np.ndarray, color: Sequence[float], view: View,
               frame_height_m: float, center_z_m: float, maps: SurfaceMaps | None = None, flat: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
        """Render one body.

        Args:
            vertices: (V, 3) Blender axes, metres. faces: (F, 3).
            color: linear RGBA base colour (used when ``maps`` is None).
            view: camera placement.
            frame_height_m: metres shown from the bottom to the top of the image.
            center_z_m: height (Blender Z) at the image centre.
            maps: per-corner UVs and the albedo, normal and roughness maps to draw (tangent frames from the UVs'
                screen derivatives, pyrender's shader without tangents).
            flat: draw the base colour unlit (the albedo as it is).
        Returns:
            (H, W, 3) uint8 colour and (H, W) float32 depth (0 = background).
        """
        import trimesh

        pr = self._pyrender
        scene = pr.Scene(bg_color=BACKGROUND, ambient_light=(0.35, 0.35, 0.35))
        if maps is None:
            mesh = trimesh.Trimesh(to_y_up(vertices), faces, process=False)
            mat = pr.MetallicRoughnessMaterial(baseColorFactor=list(color), metallicFactor=0.0, roughnessFactor=0.7)
            scene.add(pr.Mesh.from_trimesh(mesh, material=mat, smooth=True))
        else:
            scene.add(maps.mesh(pr, to_y_up(vertices), faces))
        ymag = frame_height_m / 2.0
        cam = pr.OrthographicCamera(xmag=ymag * self.width / self.height, ymag=ymag, znear=0.01, zfar=20.0)
        d = to_y_up(np.asarray(view.direction, dtype=np.float64))
        centre = to_y_up(np.array([0.0, 0.0, center_z_m]))
        eye = centre + d * 5.0
        pose = _look_at(eye, centre, np.array([0.0, 1.0, 0.0]))
        scene.add(cam, pose=pose)
        key = _look_at(centre + to_y_up(np.array([0.6, -1.0, 0.8])) * 5, centre, np.array([0.0, 1.0, 0.0]))
        scene.add(pr.DirectionalLight(color=np.ones(3), intensity=3.0), pose=key)
        scene.add(pr.DirectionalLight(color=np.ones(3), intensity=1.5), pose=pose)
        color_img, depth = self._r.render(scene, flags=pr.RenderFlags.FLAT if flat else pr.RenderFlags.NONE)
        return np.asarray(color_img)[..., :3].copy(), np.asarray(depth)

    def render_comic(self, vertices: np.ndarray, faces: np.ndarray, view: View, frame_height_m: float,
                     center_z_m: float, maps: SurfaceMaps) -> np.ndarray:
        """(H, W, 3) uint8 comic drawing of one body: the albedo unlit, times the lit grey body's shading in three
        cel bands, screentone dots in the darkest band, ink outlines where depth jumps (silhouette, folds)."""
        from pipeline.preview.comic_shading import comic_composite

        albedo, depth = self.render(vertices, faces, (1, 1, 1, 1), view, frame_height_m, center_z_m, maps, flat=True)
        grey, _ = self.render(vertices, faces, (0.8, 0.8, 0.8, 1.0), view, frame_height_m, center_z_m)
        return comic_composite(albedo, grey, depth)


class SurfaceMaps:
    """An avatar's UVs and maps for pyrender: uvs (F, 3, 2) with the origin bottom-left; albedo (S, S, 3) uint8
    sRGB; normal (S, S, 3) uint8 tangent space (OpenGL); roughness (S, S) uint8. Images are uploaded once."""

    def __init__(self, uvs: np.ndarray, albedo: np.ndarray, normal: np.ndarray | None,
                 roughness: np.ndarray | None) -> None:
        self.uvs = np.asarray(uvs, dtype=np.float32).reshape(-1, 2)
        # images as they are, row 0 at the top: pyrender flips the rows itself when it uploads a texture, so
        # that v = 0 samples the image's bottom row
        self._images = {"albedo": albedo, "normal": normal, "roughness": roughness}
        self._material = None

    def material(self, pr) -> object:
        if self._material is None:
            im = self._images
            mr = None
            if im["roughness"] is not None:
                # pyrender's shader reads roughness from R and metalness from G (glTF: G and B); roughness in both
                # R and G with B = 0 reads right either way (metalness is the factor 0 times G, or B)
                r = im["roughness"]
                mr = pr.Texture(source=np.stack([r, r, np.zeros_like(r)], -1), source_channels="RGB")
            self._material = pr.MetallicRoughnessMaterial(
                baseColorTexture=pr.Texture(source=im["albedo"], source_channels="RGB"),
                normalTexture=None if im["normal"] is None else pr.Texture(source=im["normal"], source_channels="RGB"),
                metallicRoughnessTexture=mr, metallicFactor=0.0, roughnessFactor=1.0 if mr is not None else 0.7)
        return self._material

    def mesh(self, pr, vertices_y_up: np.ndarray, faces: np.ndarray) -> object:
        """A pyrender mesh with one vertex per face corner (UV seams split), smooth normals of the welded mesh."""
        from pipeline.core.mesh import vertex_normals

        n = vertex_normals(vertices_y_up, faces)
        corners = np.asarray(faces).reshape(-1)
        prim = pr.Primitive(positions=vertices_y_up[corners], normals=n[corners], texcoord_0=self.uvs,
                            indices=np.arange(corners.size, dtype=np.uint32).reshape(-1, 3),
                            material=self.material(pr))
        return pr.Mesh([prim])


def _look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    f = target - eye
    f /= np.linalg.norm(f)
    s = np.cross(f, up)
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = s, u, -f, eye
    return m


def preview_images(renderer: Renderer, avatar: AvatarData, color: Sequence[float]) -> dict[str, np.ndarray]:
    """The pyrender preview set of one avatar, (H, W, 3) uint8 each, with its texture maps when it has them.

    ``front`` and ``side``: relaxed arms; ``poses``: a grid of rest, relaxed arms and walking stride (columns),
    front and side (rows). One scale for every avatar up to 1.85 m (``views.frame_height``). A comic avatar
    (``comic_style``) is drawn in the comic way (``Renderer.render_comic``).
    """
    frame_h = frame_height(avatar.vertices)
    maps = None if avatar.texture is None else SurfaceMaps(avatar.uvs, avatar.texture, avatar.normal_map,
                                                           avatar.roughness_map)
    panels = []
    for pose in (None, relaxed_arms(avatar), stride(avatar)):
        posed = posed_vertices(avatar, pose)
        centre = frame_centre(posed, frame_h)
        if avatar.comic_style is not None and maps is not None:
            panels.append([renderer.render_comic(posed, avatar.faces, view, frame_h, centre, maps)
                           for view in (FRONT, SIDE)])
            continue
        panels.append([renderer.render(posed, avatar.faces, color, view, frame_h, centre, maps)[0]
                       for view in (FRONT, SIDE)])
    grid = np.concatenate([np.concatenate(col, axis=0) for col in panels], axis=1)
    return {"front": panels[1][0], "side": panels[1][1], "poses": grid}
