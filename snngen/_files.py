"""Atomic file output: a reader never sees a partial file, a failure leaves nothing behind."""

from __future__ import annotations

import csv
import io
import os
import tempfile
import zipfile
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["atomic_write_bytes", "atomic_write_text", "npz_bytes"]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it into place."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Mapping]
                     ) -> None:
    """A CSV of `rows` (dicts) with exactly `columns`; a missing or None value is empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c) for c in columns})
    atomic_write_text(path, buffer.getvalue())


def atomic_save_figure(figure, path: str | os.PathLike) -> None:
    """A matplotlib figure as PNG (100 dpi, no software stamp, so the bytes are reproducible)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An uncompressed .npz archive, byte-identical for identical arrays.

    ``numpy.savez`` stamps each member with the current time; a fixed timestamp keeps outputs
    deterministic.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.external_attr = 0o644 << 16
            with archive.open(member, "w", force_zip64=True) as file:
                np.lib.format.write_array(file, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()
