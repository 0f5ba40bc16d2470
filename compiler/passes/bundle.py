"""Pass `bundle`: the IR plus a manifest with a content fingerprint.

Same inputs give byte-identical bundles: the IR is serialized canonically, input files are listed
in sorted order with their own hashes, and `created_at` comes from `SOURCE_DATE_EPOCH` when it
is set (the reproducible-builds convention), else from the clock.
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ballast.runtime.bundle import BUNDLE_FORMAT, fingerprint

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

COMPILER_VERSION = "0.1.0"


def run(compilation: Compilation) -> None:
    epoch = compilation.source_date_epoch
    if epoch is None and os.environ.get("SOURCE_DATE_EPOCH", "").strip().isdigit():
        epoch = int(os.environ["SOURCE_DATE_EPOCH"])
    created = datetime.fromtimestamp(epoch if epoch is not None else int(time.time()), UTC)
    inputs = [
        {"path": path, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
        for path, text in sorted(compilation.sources.items())
    ]
    manifest = {
        "format": BUNDLE_FORMAT,
        "compiler": f"ballast {COMPILER_VERSION}",
        "fingerprint": {
            "algo": "sha256",
            "hash": fingerprint(compilation.ir),
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "inputs": inputs,
        },
    }
    # Every kind's entries are listed, so a reviewer sees what the bundle decides.
    for kind in compilation.kinds:
        entries = compilation.ir.get(kind.ir_key) or []
        if entries or kind.ir_required:
            manifest[kind.ir_key] = [kind.manifest(entry) for entry in entries]
    compilation.bundle = {"manifest": manifest, "ir": compilation.ir}
