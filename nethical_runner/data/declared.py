"""What a spec's data section declares that can be checked before anything trains.

A missing file, a path outside the project root, ``label: targt`` or a feature the table lacks
would otherwise pass collection and fail every item of the spec, after training started. All of
these can be seen from the file system and the table's header (a CSV's first line, a Parquet
file's footer): nothing past them is read, and pandas is not imported. Each problem is given as
the key inside ``data`` that is wrong, so that it is reported at that key's line, and a relative
path's problem names the folder it was resolved in. Kaggle files are checked when their rows
are read: at collection they may not be downloaded yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nethical_runner._escape import brief, printable
from nethical_runner.data import resolved_path, shown_path
from nethical_runner.data.columns import listing, missing_hint
from nethical_runner.data.compressed import TableFile
from nethical_runner.data.errors import DataError
from nethical_runner.data.header import raw_header
from nethical_runner.spec.config import CsvConfig, DataConfig, ParquetConfig

DataKey = tuple[str | int, ...]
Found = list[tuple[DataKey, str]]


def declared_data_problems(config: DataConfig, root: Path) -> Found:
    """Problems of a csv or parquet source, as (key path inside ``data``, message); none for
    other sources. ``root`` is the project root relative paths are resolved against."""
    table = config.table
    if table is None:
        return []
    section = config.source
    path_key: DataKey = (section, "path")
    shown = shown_path(table.path)
    root = root.resolve()
    path = resolved_path(table.path, root)
    against = f"(resolved against {printable(str(root))})"
    if not path.is_relative_to(root):
        where = "" if Path(table.path).is_absolute() else f", to {printable(str(path))}"
        return [(path_key, f"{shown}: leaves the project root{where} {against}")]
    if not path.exists():
        if config.fallback == "synthetic":
            return []  # declared to stand in with synthetic rows, said in every result
        return [(path_key, f"{shown}: file not found {against}")]
    if not path.is_file():
        return [(path_key, f"{shown}: not a file {against}")]
    try:
        names, refused = _header(path, table, shown)
    except DataError as error:
        return [(path_key, str(error))]
    except OSError as error:
        return [(path_key, f"{shown}: cannot be read: {error.strerror or error} {against}")]
    if names is None:
        return []  # not plain CSV on its first line: the parser will say what it is
    return _column_problems(section, table, names, shown, refused)


def _header(
    path: Path, table: CsvConfig | ParquetConfig, shown: str
) -> tuple[list[str] | None, dict[str, str]]:
    """The column names, from a CSV's first line or a Parquet file's footer, and why each
    declared column of a type that is not read (a Parquet timestamp, a nested column) is not."""
    if isinstance(table, CsvConfig):
        source = TableFile(path, table.compression, shown)
        source.check(read_through=False)
        return raw_header(source, table.delimiter), {}
    from nethical_runner.data.parquet import open_parquet, type_problem  # pyarrow: Parquet only

    opened = open_parquet(path, shown)
    names = opened.names
    declared = [*(table.features or []), *([table.label] if table.label else [])]
    refused = {name: type_problem(opened, name) for name in declared if name in names}
    return names, {name: why for name, why in refused.items() if why}


def _column_problems(
    section: str,
    table: CsvConfig | ParquetConfig,
    names: Sequence[str],
    shown: str,
    refused: dict[str, str],
) -> Found:
    found: Found = []
    present = set(names)
    if table.label is None:
        if not any("label" in name.lower() or "target" in name.lower() for name in names):
            message = (
                f"{shown}: no column name contains 'label' or 'target'; set label "
                f"(columns: {listing(names)})"
            )
            found.append(((section,), message))
    elif table.label not in present:
        hint = missing_hint(table.label, names)
        found.append(
            ((section, "label"), f"{brief(table.label)} is not a column of {shown} ({hint})")
        )
    elif table.label in refused:
        found.append(((section, "label"), f"{shown}: {refused[table.label]}"))
    for index, feature in enumerate(table.features or []):
        key: DataKey = (section, "features", index)
        if feature == table.label:
            found.append((key, f"{brief(feature)} is the label; a label cannot be a feature"))
        elif feature not in present:
            hint = missing_hint(feature, names)
            found.append((key, f"{brief(feature)} is not a column of {shown} ({hint})"))
        elif feature in refused:
            found.append((key, f"{shown}: {refused[feature]}"))
    return found
