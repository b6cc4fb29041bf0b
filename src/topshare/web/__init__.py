"""The local web dashboard and its JSON API (the ``web`` extra: FastAPI and uvicorn).

>>> from topshare.explore import open_explorer  # doctest: +SKIP
>>> from topshare.web import create_app  # doctest: +SKIP
>>> app = create_app(open_explorer("sales.csv", segments=["region"]))  # doctest: +SKIP
"""

from __future__ import annotations

from topshare.web.app import create_app

__all__ = ["create_app"]
