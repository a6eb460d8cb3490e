"""YAML with line numbers, for CI files. Pure: text in, values out.

Mappings become :class:`LMap` (a dict that also knows the line of each key), sequences
:class:`LSeq`, scalars plain strings (YAML 1.1 booleans and numbers stay as written, which is
what a CI variable is anyway). Merge keys (``<<: *anchor``) are applied.

Aliases are expanded into copies, so a few hundred bytes of nested aliases ("billion laughs")
would expand into billions of values: the expansion is bounded by :data:`MAX_NODES` (a real CI
file has a few thousand) and stops with a :class:`YamlProblem`.
"""

from __future__ import annotations

from typing import Any

import yaml


class LMap(dict[str, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        """The line of ``key``, or of the mapping when the key is absent."""
        return self.key_lines.get(key, self.line)


class LSeq(list[Any]):
    """A sequence that remembers its line and the line of each item (1-based)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line = 0
        self.item_lines: list[int] = []


#: values one document may expand into, aliases counted at each use.
MAX_NODES = 100_000


class YamlProblem(Exception):
    """The text is not YAML; ``line`` is where the parser gave up (1-based, 0 if unknown)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class _Converter:
    """Nodes to values, counting every value made against :data:`MAX_NODES`."""

    def __init__(self) -> None:
        self.made = 0

    def __call__(self, node: yaml.Node, depth: int = 0) -> Any:
        self.made += 1
        if self.made > MAX_NODES:
            raise YamlProblem(
                f"the document expands into more than {MAX_NODES} values (nested aliases)",
                node.start_mark.line + 1,
            )
        if depth > 200:
            raise YamlProblem("nesting too deep", node.start_mark.line + 1)
        return self.value(node, depth)

    def value(self, node: yaml.Node, depth: int) -> Any:
        if isinstance(node, yaml.MappingNode):
            out = LMap()
            out.line = node.start_mark.line + 1
            merged: list[LMap] = []
            for k, v in node.value:
                key = str(k.value) if isinstance(k, yaml.ScalarNode) else str(self(k, depth + 1))
                if key == "<<" and k.tag == "tag:yaml.org,2002:merge":
                    vals = v.value if isinstance(v, yaml.SequenceNode) else [v]
                    merged.extend(
                        m for m in (self(x, depth + 1) for x in vals) if isinstance(m, LMap)
                    )
                    continue
                out[key] = self(v, depth + 1)
                out.key_lines[key] = k.start_mark.line + 1
            for m in merged:
                for key, val in m.items():
                    if key not in out:
                        out[key] = val
                        out.key_lines[key] = m.line_of(key)
            return out
        if isinstance(node, yaml.SequenceNode):
            seq = LSeq(self(x, depth + 1) for x in node.value)
            seq.line = node.start_mark.line + 1
            seq.item_lines = [x.start_mark.line + 1 for x in node.value]
            return seq
        value = node.value
        if node.tag == "tag:yaml.org,2002:null" and value in ("", "~", "null", "Null", "NULL"):
            return None
        return str(value)


def load(text: str) -> Any:
    """Parse one YAML document with lines; an empty document gives None.

    Raises:
        YamlProblem: syntax errors, with the line where the parser stopped.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlProblem(msg or "invalid YAML", mark.line + 1 if mark else 0) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(str(exc).splitlines()[0], 0) from exc
    except RecursionError as exc:
        raise YamlProblem("nesting too deep", 0) from exc
    return None if node is None else _Converter()(node)
