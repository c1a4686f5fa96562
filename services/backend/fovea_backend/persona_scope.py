"""A persona scope: the workspace reads and saves one persona's annotations (issue 21, item 6).

`personaId=<uuid>` on the annotation reads (the workspace's document, the track list) keeps that persona's tracks,
events and relations and those of no persona; `personaId=none` keeps only those of no persona. Annotations without a
persona (made by scripts, imports, or before personas were chosen) are nobody's: the team's, shown and editable in
every persona's workspace — so choosing a persona for its ontology never hides them — but never another persona's.

On a save the scope is a promise the server keeps, not a filter: every object the save names must be in the scope as
stored and stay in it after the save. A save scoped to A that names B's track, deletes it, or moves a track to B is
refused whole (422 naming the part, nothing written), so a workspace showing other personas' work can never write
over it, whatever state it is in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query

from fovea_backend.errors import invalid
from fovea_backend.schemas import PERSONA_SCOPE_PATTERN

NO_PERSONA = "none"
ScopeParam = Annotated[str | None, Query(alias="personaId", pattern=PERSONA_SCOPE_PATTERN, description=(
    "only this persona's tracks, events and relations and the team's (those without a persona; `none`: only those);"
    " on a save, every object it names must be (and stay) in that scope, else 422 and nothing is written"))]


@dataclass(frozen=True)
class PersonaScope:
    persona_id: str | None  # None: the annotations that belong to no persona

    @classmethod
    def of(cls, param: str | None) -> PersonaScope | None:
        """The scope a `personaId` query parameter names (already matched against PERSONA_SCOPE_PATTERN); None: no scope."""
        if param is None:
            return None
        return cls(None if param == NO_PERSONA else str(UUID(param)))

    @property
    def key(self) -> str:
        """For caches of rendered bodies: one entry per revision and scope."""
        return self.persona_id or NO_PERSONA

    def condition(self, alias: str) -> str:
        """An SQL condition on `alias`'s persona; its one parameter is `%(persona)s` (NULL for `none`)."""
        return f"({alias}.persona_id IS NULL OR {alias}.persona_id = %(persona)s::uuid)"

    def holds(self, persona_id: Any) -> bool:
        """Whether an object with this persona (a UUID, its text in any case, or None) is inside the scope."""
        if persona_id is None:
            return True  # nobody's: in every scope
        try:
            return str(UUID(str(persona_id))) == self.persona_id
        except ValueError:
            return False  # not a persona at all: refused here or by the field's own validation

    def describe(self, persona_id: Any) -> str:
        return "no persona" if persona_id is None else f"persona {persona_id}"

    def refuse(self, loc: tuple[str | int, ...], what: str, persona_id: Any, moving: bool = False) -> Exception:
        scope = self.describe(self.persona_id)
        why = (f"would put {what} under {self.describe(persona_id)}" if moving
               else f"{what} belongs to {self.describe(persona_id)}")
        return invalid(loc, f"this save is scoped to {scope} (personaId) and {why}: nothing was saved;"
                            f" choose that persona in the workspace to change it")
