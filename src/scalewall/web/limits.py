"""Size and computation caps of the web app.

Every cap is refused with its name and value, so a client learns what to change: a body over
``max_body_bytes`` gets 413, a request whose computation would exceed a cap gets 422 with
``rule: "cap"``. The defaults keep one request under about a second and a few hundred MB on a
two-core machine.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Caps applied to every request (all counts are plain integers)."""

    #: Request body, including an uploaded config.json or validation CSV [bytes].
    max_body_bytes: int = 1_048_576
    #: Devices in one training or serving plan.
    max_devices: int = 1_000_000
    #: Layout candidates one training search may enumerate: the grid of
    #: :func:`scalewall.train.search.enumerate_layouts`. Llama 3.1 405B on 16,384 devices
    #: enumerates about 60,000; DeepSeek-V3 on 55,440 devices about 1.2 million (0.6 s, 300 MB).
    max_layout_candidates: int = 2_000_000
    #: Accelerators in one comparison (each is a full plan with its own layout search).
    max_compare: int = 12
    #: Rows in one validation request (each is a plan).
    max_validation_rows: int = 100
    #: Serving-search accelerators (each a vectorised grid of tp x pp x batch).
    max_serving_search_hardware: int = 30
    #: Monte Carlo draws of one wall projection.
    max_draws: int = 20_000
    #: Years of one wall projection.
    max_years: int = 40
    #: Top layouts listed by a search.
    max_top: int = 50
    #: Keys of an uploaded config.json.
    max_config_keys: int = 500
    #: Heavy computations running at once; the others wait their turn.
    max_concurrent: int = 4


DEFAULT_LIMITS = Limits()
