"""The web shell: a FastAPI JSON API over the public planners, and one page with plots.

Start it with ``scalewall web`` (needs ``pip install 'scalewall[web]'``). The app computes
nothing itself: each endpoint calls :mod:`scalewall.api`, :mod:`scalewall.infer` or
:mod:`scalewall.validate` and returns the result's ``to_dict()``.
"""

from scalewall.web.app import create_app as create_app
from scalewall.web.limits import DEFAULT_LIMITS as DEFAULT_LIMITS
from scalewall.web.limits import Limits as Limits

__all__ = ["DEFAULT_LIMITS", "Limits", "create_app"]
