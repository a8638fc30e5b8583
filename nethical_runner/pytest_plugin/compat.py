"""What differs between the pytest versions the plugin supports (the declared ``pytest>=7.4``).

Node ids. From pytest 9.1 a node's id is structured (path, names, parameters), and ``--lf`` /
``--nf`` compare those structures with ones parsed from the strings in pytest's cache. An id
that pytest derives from an item's name keeps ``gate[accuracy]`` as one name, so it would never
equal the cache's parsed ``gate`` + ``[accuracy]``, and ``--lf`` would select nothing. Handing
the id over as a string, through the public ``nodeid`` argument of ``from_parent``, makes
pytest 9.1+ parse it exactly as it parses the cache; pytest 7.4 to 9.0 store the string as is,
which is the id they would have built themselves.
"""

from __future__ import annotations

import pytest


def item_nodeid(parent: pytest.Collector, name: str) -> str:
    """The id of the item ``name`` under ``parent``, to pass as ``nodeid=`` on every version."""
    return f"{parent.nodeid}::{name}"
