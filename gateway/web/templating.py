"""Jinja2 templates for the person's web client (autoescaped HTML)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from gateway.web.formatting import FILTERS

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    templates.env.filters.update(FILTERS)
    return templates
