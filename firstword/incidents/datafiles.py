"""User-editable YAML data files (playbooks, the component catalogue), validated with
Pydantic, with errors that name the file and the line at fault."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from firstword.core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

MAX_FILE_BYTES = 1_000_000  # a playbook or catalogue is a few kilobytes; refuse huge files


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int:
    """1-based line of the deepest node along `loc` (a Pydantic error location) that exists
    in the YAML document; for a mapping key, the line of the key itself."""
    line = (node.start_mark.line + 1) if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"])
    return f"{where}: {message}" if where else message


def read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path.name}:1", f"file is larger than {MAX_FILE_BYTES} bytes")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path.name}:1", "not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput(f"{path.name}:1", f"cannot read: {exc.strerror}") from None


def parse(text: str, filename: str, model: type[M]) -> M:
    """Parse one YAML document and validate it as `model`.

    Raises InvalidInput("<filename>:<line>", reason) for YAML syntax errors and for the first
    schema error (with the line of the offending key)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = exc.problem or "malformed YAML"
        raise InvalidInput(f"{filename}:{line}", f"malformed YAML: {reason}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{filename}:1", f"malformed YAML: {exc}") from None
    if data is None:
        raise InvalidInput(f"{filename}:1", "the file is empty")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        line = _line_of(node, first["loc"])
        extra = len(exc.errors()) - 1
        reason = _describe(first) + (f" (and {extra} more problems)" if extra else "")
        raise InvalidInput(f"{filename}:{line}", reason) from None


def load(path: Path, model: type[M]) -> M:
    return parse(read_text(path), path.name, model)


def key_line(text: str, index: int, list_key: str) -> int:
    """Line of item `index` of the top-level list `list_key` (for errors found after
    validation, such as duplicate keys)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 1
    return _line_of(node, [list_key, index])
