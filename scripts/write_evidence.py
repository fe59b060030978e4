"""Write ``catalog/validation/evidence.json``: the shipped validation summarised per accelerator
and metric group, which every plan quotes (``scalewall.evidence``). Run after changing the
model or the validation rows; a test fails while the file is stale.

Usage: python scripts/write_evidence.py
"""

from __future__ import annotations

import json

from scalewall.evidence import EVIDENCE_FILE, compute_evidence


def main() -> None:
    data = compute_evidence()
    EVIDENCE_FILE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{EVIDENCE_FILE}: {len(data)} accelerators")


if __name__ == "__main__":
    main()
