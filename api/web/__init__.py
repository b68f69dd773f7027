"""The operators' dashboard and the public canteen and parking board, served by the API process.

Server-rendered pages (Jinja2), small hand-written ES modules and uPlot for charts, all shipped in
the package (`static/`): a control room without internet access loses nothing.
"""

from api.web.routes import mount

__all__ = ["mount"]
