"""Per-process resources of avatar jobs: made on first use, kept for the next avatar, closed at the end.

A process that runs jobs (the CLI's own process, each worker of a local pool, the add-on, the decode worker) owns
one ``JobContext``; nothing is cached in module globals. The body model is loaded at once (every job needs it);
the decoder, the refiner and the offscreen renderer only when a job first asks for them (torch starts in about
2 s, the GL context in about 0.4 s). The thread policy is applied at once for numpy's BLAS and before torch runs.
"""

from __future__ import annotations

from typing import Any

from pipeline.core.body_model import BodyModel, load_body_model
from pipeline.jobs.threads import ThreadPolicy

PREVIEW_SIZE = (384, 512)  # pyrender previews: width, height in pixels


class JobContext:
    """Resources one process reuses across avatar jobs.

    Attributes:
        body: the body model. threads: the thread policy applied in this process.
    """

    def __init__(self, threads: ThreadPolicy | None = None, body: BodyModel | None = None) -> None:
        self.threads = threads or ThreadPolicy()
        self.threads.apply_blas()
        self.body = body or load_body_model()
        self._decoder: Any = None
        self._refiner: Any = None
        self._renderer: Any = None
        self._texture: Any = None
        self._comic: dict[str, Any] = {}
        self._enhancer: Any = None
        self.scene_ready = False  # Blender: factory settings loaded once, then only cleared between avatars

    @property
    def decoder(self) -> Any:
        """The shipped AvatarDecoder (loaded, checked against the body data, in eval mode)."""
        if self._decoder is None:
            from models.decoder.model import AvatarDecoder

            self.threads.apply_torch()
            self._decoder = AvatarDecoder.load()
        return self._decoder

    @property
    def texture_model(self) -> Any:
        """The shipped TextureDecoder (loaded, checked, in eval mode)."""
        if self._texture is None:
            from models.texture.model import TextureDecoder

            self.threads.apply_torch()
            self._texture = TextureDecoder.load()
        return self._texture

    def comic_style(self, name: str) -> Any:
        """A comic style by name (``models.comic.style.ComicStyle``, loaded once per process)."""
        if name not in self._comic:
            from models.comic.style import ComicStyle
            from pipeline.core.comic_styles import comic_style_dirs

            self.threads.apply_torch()
            self._comic[name] = ComicStyle.load(comic_style_dirs()[name])  # an installed name, never a path
        return self._comic[name]

    @property
    def enhancer(self) -> Any:
        """The shipped RenderEnhancer (``models.enhancer``, in eval mode)."""
        if self._enhancer is None:
            from models.enhancer.model import RenderEnhancer

            self.threads.apply_torch()
            self._enhancer = RenderEnhancer.load()
        return self._enhancer

    @property
    def refiner(self) -> Any:
        """Measurement refinement on this body model, with the decoder's prior metric."""
        if self._refiner is None:
            from models.decoder.model import prior_covariance
            from models.decoder.refine import Refiner

            self._refiner = Refiner(self.body, prior_cov=prior_covariance(self.decoder))
        return self._refiner

    @property
    def renderer(self) -> Any:
        """The pyrender offscreen renderer for previews."""
        if self._renderer is None:
            from pipeline.preview.offscreen import Renderer

            self._renderer = Renderer(*PREVIEW_SIZE)
        return self._renderer

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
