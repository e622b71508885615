"""Where comic styles live and which one an avatar gets (no torch: the jobs and the add-on list styles cheaply).

A style is a folder holding ``comic.safetensors`` (``models.comic.style``). Shipped styles live in
``models/weights/comic/<name>/``; styles a user trains go to the user styles folder: ``$AVATAR_STYLES`` when set,
else ``$XDG_DATA_HOME/avatar/styles`` (``~/.local/share/avatar/styles``). A name found in both is the user's.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.core.resources import weights_dir

STYLE_WEIGHTS = "comic.safetensors"
DEFAULT_COMIC_STYLE = "ink"


def user_styles_dir() -> Path:
    """The folder of styles a user trains: ``$AVATAR_STYLES``, else ``$XDG_DATA_HOME/avatar/styles``."""
    env = os.environ.get("AVATAR_STYLES")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "avatar" / "styles"


def _styles_in(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if (p / STYLE_WEIGHTS).is_file()}


def comic_style_dirs() -> dict[str, Path]:
    """Style name -> folder: the shipped ones, then the user's (which win on a shared name)."""
    return {**_styles_in(weights_dir("comic")), **_styles_in(user_styles_dir())}


def comic_style_for(style: str, comic_style: str | None, styles: tuple[str, ...]) -> str | None:
    """The comic style an avatar is drawn in: None for the realistic look or when no style is installed; the
    named one when installed, else the default (``ink``, or the first there is)."""
    if style != "comic" or not styles:
        return None
    if comic_style in styles:
        return comic_style
    return DEFAULT_COMIC_STYLE if DEFAULT_COMIC_STYLE in styles else styles[0]
