"""First-run seed: the `admin` user (password from the admin_password secret) and the "Automated"
persona that automatic detections are filed under. Runs once per database, recorded in app_state, so
deleting the persona or changing the secret later is respected rather than undone at the next restart.
The persona has a fixed id so an export from one installation imports cleanly into a fresh one."""

from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from fovea_backend.auth import hash_password

AUTOMATED_PERSONA_ID = UUID("00000000-0000-4000-8000-000000000001")
SEED_LOCK_KEY = 0x0F0EA_0002

AUTOMATED_ONTOLOGY: dict[str, list[dict[str, str]]] = {
    "entity_types": [
        {"id": "person", "name": "Person", "description": "A human being visible in the video"},
        {"id": "vehicle", "name": "Vehicle", "description": "A car, bus, truck, bicycle or motorbike"},
        {"id": "object", "name": "Object", "description": "Any other detected object"},
    ],
    "event_types": [
        {"id": "fall", "name": "Fall", "description": "A person falls to the ground"},
        {"id": "movement", "name": "Movement", "description": "An entity moves through the scene"},
    ],
    "role_types": [
        {"id": "agent", "name": "Agent", "description": "The entity that performs an event"},
        {"id": "patient", "name": "Patient", "description": "The entity an event happens to"},
    ],
    "relation_types": [
        {"id": "near", "name": "Near", "description": "Two entities are close to each other"},
    ],
}


def seed(conn: psycopg.Connection, admin_password: str) -> bool:
    """Seed once; return True when this call did it. Caller owns the transaction."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (SEED_LOCK_KEY,))
    if conn.execute("SELECT 1 FROM app_state WHERE key = 'seeded'").fetchone():
        return False
    conn.execute(
        "INSERT INTO users (username, password_hash, role) VALUES ('admin', %s, 'admin')"
        " ON CONFLICT (username) DO NOTHING",
        (hash_password(admin_password),),
    )
    conn.execute(
        "INSERT INTO personas (id, name, role, information_need) VALUES (%s, 'Automated', %s, %s)"
        " ON CONFLICT (id) DO NOTHING",
        (
            AUTOMATED_PERSONA_ID,
            "Automated analysis",
            "Objects and people found by the model service, for review by analysts",
        ),
    )
    conn.execute(
        "INSERT INTO ontologies (persona_id, entity_types, event_types, role_types, relation_types)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (persona_id) DO NOTHING",
        (AUTOMATED_PERSONA_ID, *(Jsonb(AUTOMATED_ONTOLOGY[k]) for k in ("entity_types", "event_types", "role_types", "relation_types"))),
    )
    conn.execute("INSERT INTO app_state (key, value) VALUES ('seeded', 'true')")
    return True
