"""Which device a measurement runs on, and which catalog accelerator that is."""

from __future__ import annotations

import os
import re
from typing import Any

from scalewall._errors import UnknownCatalogEntry
from scalewall.catalog import Catalog, get_catalog

__all__ = ["describe_device", "match_accelerator", "nvml_index"]

_VENDOR_WORDS = {"nvidia", "amd", "tesla", "geforce", "intel"}


def match_accelerator(device_name: str, *, catalog: Catalog | None = None) -> str | None:
    """The catalog accelerator id of a device name as PyTorch reports it, or ``None``.

    The name is lower-cased, vendor words are dropped, and the longest leading run of its
    words that is a catalog id or alias wins.

    Examples
    --------
    >>> match_accelerator("NVIDIA H100 80GB HBM3")
    'h100-sxm'
    >>> match_accelerator("NVIDIA A100-SXM4-40GB")
    'a100-sxm4-40gb'
    >>> match_accelerator("NVIDIA H200")
    'h200-sxm'
    >>> match_accelerator("cpu") is None
    True
    """
    cat = catalog or get_catalog()
    words = [w for w in re.split(r"[\s_\-]+", device_name.lower()) if w and
             w not in _VENDOR_WORDS]
    for n in range(len(words), 0, -1):
        try:
            return cat.accelerator("-".join(words[:n])).id
        except UnknownCatalogEntry:
            continue
    return None


def nvml_index(cuda_index: int) -> int:
    """NVML's index of the CUDA device ``cuda_index`` under ``CUDA_VISIBLE_DEVICES``.

    NVML ignores that variable; when it lists plain indices, the i-th visible device is the
    listed one. UUID lists are not mapped (the CUDA index is returned).
    """
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
               if v.strip()]
    if cuda_index < len(visible) and visible[cuda_index].isdigit():
        return int(visible[cuda_index])
    return cuda_index


def describe_device(torch: Any, device: Any) -> dict[str, Any]:
    """Name and software versions of ``device`` (a ``torch.device``)."""
    info: dict[str, Any] = {"type": device.type, "torch": str(torch.__version__)}
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        info.update(name=str(props.name), index=int(index),
                    memory_bytes=float(props.total_memory),
                    n_compute_units=int(props.multi_processor_count),
                    cuda=str(torch.version.cuda), count=int(torch.cuda.device_count()))
    else:
        info.update(name="cpu", index=None, threads=int(torch.get_num_threads()))
    return info
