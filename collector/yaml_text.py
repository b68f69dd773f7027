"""Parsing the YAML files louyu reads (registry, rules, routing): the nodes, for the line numbers
that problems are reported at, and the data, from one parse.

libyaml is used where PyYAML was built with it: the pure-Python parser takes a quarter of a second
on the shipped registry or rules, at every start of every part. A text that is not valid YAML is
read again by the pure-Python parser, so that the error (its message and its line) is the same
whichever parser PyYAML has.
"""

from __future__ import annotations

from typing import Any

import yaml

_FAST: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(loader_class: type[yaml.SafeLoader], text: str) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        return root, None if root is None else loader.construct_document(root)
    finally:
        loader.dispose()


def compose_and_load(text: str) -> tuple[yaml.Node | None, Any]:
    """The root node (None for an empty text) and the data of a one-document YAML text, as
    `yaml.compose` and `yaml.safe_load` give them; raises yaml.YAMLError."""
    try:
        return _parse(_FAST, text)
    except yaml.YAMLError:
        if _FAST is yaml.SafeLoader:
            raise
    return _parse(yaml.SafeLoader, text)
