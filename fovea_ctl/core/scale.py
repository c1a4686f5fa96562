"""Scaling what can scale: `fovea up --scale model-worker=3` (or FOVEA_SCALE in `.env`).

The stack says which services are stateless and how far each may go (`Service.scale`); this module
only turns the user's request into a validated stack, so a refusal reads like every other stack error.
"""

from __future__ import annotations

from fovea_ctl.errors import StackInvalid, UsageError
from fovea_ctl.model import Stack, StackError


def parse_scale(requests: list[str] | str) -> dict[str, int]:
    """`model-worker=3` items (a list, or one comma-separated string as FOVEA_SCALE holds) → counts."""
    items = requests.split(",") if isinstance(requests, str) else requests
    counts: dict[str, int] = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        name, sep, number = item.partition("=")
        if not sep or not number.isdigit() or int(number) < 1:
            raise UsageError(f"--scale {item!r}: expected SERVICE=N with N ≥ 1 (e.g. model-worker=3)")
        counts[name.strip()] = int(number)
    return counts


def scaled_stack(stack: Stack, requests: list[str] | str) -> Stack:
    counts = parse_scale(requests)
    if not counts:
        return stack
    try:
        return stack.with_replicas(counts)
    except StackError as exc:
        raise StackInvalid("cannot scale:\n  " + "\n  ".join(exc.problems)) from None
    except ValueError as exc:  # pydantic wraps the StackError raised by the model validator
        problems = [p for e in getattr(exc, "errors", lambda: [])()
                    if isinstance(e.get("ctx", {}).get("error"), StackError) for p in e["ctx"]["error"].problems]
        raise StackInvalid("cannot scale:\n  " + "\n  ".join(problems or [str(exc)])) from None
