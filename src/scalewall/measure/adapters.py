"""Probe adapters for training frameworks, built only when the framework is installed.

* :func:`hf_callback` returns a ``transformers.TrainerCallback`` for the Hugging Face Trainer.
* :func:`lightning_callback` returns a ``Callback`` for PyTorch Lightning (``lightning`` or
  ``pytorch_lightning``).

Neither framework reports tokens per step, so the caller gives ``tokens_per_step`` (global
batch x sequence length on this device). The probe starts at the first step and stops when
training ends.
"""

from __future__ import annotations

import importlib
from typing import Any

from scalewall.measure._common import MeasureUnavailable
from scalewall.measure.probe import Probe

__all__ = ["hf_callback", "lightning_callback"]


def hf_callback(probe: Probe, *, tokens_per_step: float) -> Any:
    """A ``transformers.TrainerCallback`` that measures every optimizer step with ``probe``."""
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:
        raise MeasureUnavailable("hf_callback needs the transformers package") from None

    class ScalewallCallback(transformers.TrainerCallback):  # type: ignore[misc, name-defined]
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            probe.on_step_begin()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            probe.on_step_end(n_tokens=tokens_per_step)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            probe.stop()

    return ScalewallCallback()


def _lightning() -> Any:
    for name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise MeasureUnavailable("lightning_callback needs lightning or pytorch_lightning")


def lightning_callback(probe: Probe, *, tokens_per_step: float) -> Any:
    """A Lightning ``Callback`` that measures every training batch with ``probe``.

    With gradient accumulation a Lightning batch is a micro-batch: give its tokens.
    """
    pl = _lightning()

    class ScalewallCallback(pl.Callback):  # type: ignore[misc, name-defined]
        def on_train_batch_start(self, trainer: Any, module: Any, batch: Any,
                                 batch_idx: int) -> None:
            probe.on_step_begin()

        def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any,
                               batch_idx: int) -> None:
            probe.on_step_end(n_tokens=tokens_per_step)

        def on_train_end(self, trainer: Any, module: Any) -> None:
            probe.stop()

    return ScalewallCallback()
