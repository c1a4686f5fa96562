-- Personas have owners (issue 21, as upstream FOVEA): visible to the whole team, edited (with their ontology) by
-- their owner and admins. A persona made by a signed-in user is theirs (the default reads `fovea.actor`, see
-- 0061); one without an owner (made before accounts, the seeded "Automated" one) is the team's: admins edit it.

ALTER TABLE personas ADD COLUMN owner_id uuid DEFAULT fovea_actor() REFERENCES users (id) ON DELETE SET NULL;
