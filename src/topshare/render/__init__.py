"""Renderers: one Analysis in, text out. Every output format goes through :func:`render`."""

from __future__ import annotations

from topshare.render.text import FORMATS, render

__all__ = ["FORMATS", "render"]
