"""``udabench data info|download``: a dataset's layout and sources, what a data root holds, downloads."""

from __future__ import annotations

import sys
from pathlib import Path

from ..contract.dataset import default_data_root
from ..contract.registry import get_registry
from ..data.download import check_root, download, has_download, report, without_download


def data_command(args) -> int:
    """The CLI's handler of ``udabench data``."""
    dataset_cls = get_registry().dataset(args.name)
    root = Path(args.root).expanduser() if args.root else default_data_root()
    progress = args.progress and sys.stderr.isatty()
    if args.data_command == "download":
        if not has_download(dataset_cls):  # e.g. digits, drawn by udabench: generated now, if need be
            return without_download(dataset_cls, root, progress)
        download(dataset_cls, root, args.packaging, args.mirror, args.keep_archives, progress)
        print()
        return check_root(dataset_cls, root, False, progress, print)
    return report(dataset_cls, root, args.verify, progress)
