"""Shared type aliases."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
#: A scalar or an array; scalar in gives scalar out.
ArrayLike: TypeAlias = float | int | npt.NDArray[np.float64] | npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
