"""Errors about data, importable without pulling in pandas."""


class DataError(ValueError):
    """The data a spec points at is there but cannot be used as declared."""
