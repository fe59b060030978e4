"""The web shell: a FastAPI JSON API over the public planners, and one page with plots.

Start it with ``scalewall web`` (needs ``pip install 'scalewall[web]'``). The app computes
nothing itself: each endpoint calls :mod:`scalewall.api`, :mod:`scalewall.infer` or
:mod:`scalewall.validate` and returns the result's ``to_dict()``. FastAPI is imported on first
use, so registering the ``web`` command costs the command line nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalewall._lazy import lazy_getattr

if TYPE_CHECKING:
    from scalewall.web.app import create_app as create_app
    from scalewall.web.limits import DEFAULT_LIMITS as DEFAULT_LIMITS
    from scalewall.web.limits import Limits as Limits

_EXPORTS = {
    "DEFAULT_LIMITS": "scalewall.web.limits",
    "Limits": "scalewall.web.limits",
    "create_app": "scalewall.web.app",
}
__all__ = ["DEFAULT_LIMITS", "Limits", "create_app"]
__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
