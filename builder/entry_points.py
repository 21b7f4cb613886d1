"""Keep ``entry_points.txt`` honest: drop entry points whose module the slimmer removed, so no
console script or plugin hook points at code that is no longer in the wheel."""

from __future__ import annotations

import configparser
import io

from .wheelfile import Wheel


def prune_entry_points(wheel: Wheel) -> list[str]:
    """Remove entry points whose module is gone; return what was dropped (``group:name``)."""
    name = f"{wheel.dist_info_source}/entry_points.txt"
    if name not in wheel.names():
        return []
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(wheel.read_text(name))
    present = set(wheel.names())
    dropped = []
    for section in parser.sections():
        for key, value in list(parser.items(section)):
            if not _module_present(value.split(":", 1)[0].strip(), present):
                parser.remove_option(section, key)
                dropped.append(f"{section}:{key}")
        if not parser.options(section):
            parser.remove_section(section)
    if not dropped:
        return []
    if not parser.sections():
        wheel.remove([name])
        return dropped
    buffer = io.StringIO()
    parser.write(buffer)
    wheel.replace(name, buffer.getvalue().encode("utf-8"))
    return dropped


def _module_present(module: str, present: set[str]) -> bool:
    path = module.replace(".", "/")
    if f"{path}.py" in present or f"{path}/__init__.py" in present:
        return True
    return any(n.startswith(f"{path}.") and n.endswith((".so", ".pyd")) for n in present)
