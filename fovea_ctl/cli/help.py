"""`--help` that reads like compose's: plain text, `--timeout float` rather than `--timeout <float>`,
flags without a type (`--json`, not `--json <bool>`), arguments in capitals (`exec SERVICE COMMAND...`,
`up [SERVICES...]`); and service names completed from the stack.

The installed typer (0.29) prints every parameter's Python type in angle brackets, flags included. Its
plain formatter is chosen with TYPER_USE_RICH=0 (typer's own switch, read when typer is imported); the
type words come from the two methods patched here, the one place that decides them for every command.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("TYPER_USE_RICH", "0")  # before typer is imported (fovea_ctl.cli.app imports this first)

# The words compose's help uses for a value's type.
TYPE_WORDS = {"str": "string", "int": "int", "float": "float", "Path": "path", "bool": ""}


def _type_word(parameter: Any, ctx: Any) -> str:
    descriptor = parameter.type_descriptor
    if descriptor.is_choice and descriptor.choices:
        return "|".join(str(getattr(choice, "value", choice)) for choice in descriptor.choices)
    label: str = parameter.bare_type()
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]  # a repeatable option takes one value each time
    return TYPE_WORDS.get(label, label.lower())


def install() -> None:
    from typer import core

    def option_type(self: Any, ctx: Any) -> str | None:
        if self.metavar is not None:
            metavar: str = self.metavar
            return metavar
        if self.is_flag or self.count:
            return None
        return _type_word(self, ctx) or None

    def argument_type(self: Any, ctx: Any) -> str | None:
        return None  # the capitalised name says what it is

    def argument_name(self: Any) -> str:
        return self.metavar if self.metavar is not None else str(self.name).upper()

    def argument_usage(self: Any) -> str:
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return name if self.required else f"[{name}]"  # compose's `SERVICE COMMAND [ARGS...]`

    # Typer's help hooks, replaced on its classes on purpose: mypy refuses assignments to methods.
    core.TyperOption.display_type_rich = option_type  # type: ignore[method-assign]  # compose-style help (above)
    core.TyperArgument.display_type_rich = argument_type  # type: ignore[method-assign]  # compose-style help (above)
    core.TyperArgument.display_name_raw = property(argument_name)  # type: ignore[assignment]  # a property over a field
    core.TyperArgument._usage_display_name = argument_usage  # type: ignore[method-assign]  # compose-style usage
