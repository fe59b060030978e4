"""Shared type aliases."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
#: A scalar or an array; scalar in gives scalar out.
ArrayLike: TypeAlias = float | int | npt.NDArray[np.float64] | npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
#: A flag per candidate: one bool for all, or an array that broadcasts with the others.
BoolLike: TypeAlias = bool | npt.NDArray[np.bool_]


def as_float(x: ArrayLike) -> FloatArray:
    """``x`` as float64: an array stays an array, a scalar becomes a numpy scalar (arithmetic
    on numpy scalars is about ten times faster than on 0-d arrays, which matters for a single
    plan; the type is that of an array either way)."""
    kind = type(x)
    if kind is np.float64:
        return x  # type: ignore[return-value]
    if kind is float or kind is int:
        return np.float64(x)  # type: ignore[return-value]
    out = np.asarray(x, dtype=float)
    return out[()] if out.ndim == 0 else out


def where(condition: object, a: object, b: object) -> FloatArray:
    """``np.where`` that returns a numpy scalar, not a 0-d array, for scalar inputs."""
    array = np.ndarray
    if type(condition) is not array and type(a) is not array and type(b) is not array:
        return a if condition else b  # type: ignore[return-value]
    out = np.where(condition, a, b)  # type: ignore[call-overload]
    return out[()] if out.ndim == 0 else out  # type: ignore[no-any-return]


def maximum(a: object, b: object) -> FloatArray:
    """``np.maximum`` without the ufunc's cost on two scalars (NaN still propagates)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.maximum(a, b)  # type: ignore[call-overload,no-any-return]
    return a if (a != a or a >= b) else b  # type: ignore[operator,return-value]


def minimum(a: object, b: object) -> FloatArray:
    """``np.minimum`` without the ufunc's cost on two scalars (NaN still propagates)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.minimum(a, b)  # type: ignore[call-overload,no-any-return]
    return a if (a != a or a <= b) else b  # type: ignore[operator,return-value]
