"""SQL expressions rendering each table's row as the API's camelCase JSON (one place, used by routes and
export alike, so what a client reads and what an export holds cannot drift apart)."""

PERSONA = """json_build_object('id', p.id, 'name', p.name, 'role', p.role, 'informationNeed', p.information_need,
  'hidden', p.hidden, 'createdAt', p.created_at, 'updatedAt', p.updated_at,
  'owner', (SELECT u.username FROM users u WHERE u.id = p.owner_id))"""

ONTOLOGY = """json_build_object('personaId', o.persona_id, 'entityTypes', o.entity_types, 'eventTypes', o.event_types,
  'roleTypes', o.role_types, 'relationTypes', o.relation_types, 'updatedAt', o.updated_at)"""

WORLD = """json_build_object('entities', w.entities, 'events', w.events, 'times', w.times, 'locations', w.locations,
  'collections', w.collections, 'relations', w.relations, 'updatedAt', w.updated_at)"""

VIDEO = """json_build_object('id', v.id, 'filename', v.filename, 'path', v.path, 'sizeBytes', v.size_bytes,
  'duration', v.duration, 'fpsNum', v.fps_num, 'fpsDen', v.fps_den, 'fps', v.fps, 'frameCount', v.frame_count,
  'width', v.width, 'height', v.height, 'codec', v.codec, 'metadata', v.metadata,
  'createdAt', v.created_at, 'updatedAt', v.updated_at)"""

# What the API shows beyond the stored row: derived counts, not exported (annotation_rev is a cache counter).
VIDEO_OUT = VIDEO[:-1] + """, 'annotationCount', (SELECT count(*) FROM annotations c WHERE c.video_id = v.id),
  'annotationRevision', v.annotation_rev,
  'problem', CASE WHEN v.probe = '{}'::jsonb THEN 'not a video ffprobe can read: no video stream found'
                  WHEN v.fps_num IS NULL THEN 'its frame rate is unknown' WHEN v.duration IS NULL THEN 'its duration is unknown'
             END)"""

ANNOTATION = """json_build_object('id', a.id, 'videoId', a.video_id, 'personaId', a.persona_id, 'type', a.type,
  'label', a.label, 'frames', a.frames, 'source', a.source, 'confidence', a.confidence, 'jobId', a.job_id,
  'entityId', a.entity_id, 'attributes', a.attributes, 'locked', a.locked,
  'version', a.version, 'createdAt', a.created_at, 'updatedAt', a.updated_at,
  'createdBy', (SELECT u.username FROM users u WHERE u.id = a.created_by),
  'updatedBy', (SELECT u.username FROM users u WHERE u.id = a.updated_by))"""

EVENT = """json_build_object('id', e.id, 'videoId', e.video_id, 'personaId', e.persona_id, 'type', e.type,
  'label', e.label, 'startFrame', e.start_frame, 'endFrame', e.end_frame, 'roles', e.roles, 'attributes', e.attributes,
  'source', e.source, 'version', e.version, 'createdAt', e.created_at, 'updatedAt', e.updated_at)"""

RELATION = """json_build_object('id', r.id, 'videoId', r.video_id, 'personaId', r.persona_id, 'type', r.type,
  'source', r.source, 'target', r.target, 'attributes', r.attributes,
  'version', r.version, 'createdAt', r.created_at, 'updatedAt', r.updated_at)"""

SUMMARY = """json_build_object('id', s.id, 'videoId', s.video_id, 'personaId', s.persona_id, 'summary', s.summary,
  'text', s.text, 'keyFrames', s.key_frames, 'jobId', s.job_id, 'hasEmbedding', s.embedding IS NOT NULL,
  'createdAt', s.created_at, 'updatedAt', s.updated_at)"""

TRANSCRIPT = """json_build_object('videoId', t.video_id, 'jobId', t.job_id, 'model', t.model, 'language', t.language,
  'status', t.status, 'message', CASE t.status WHEN 'no_audio' THEN 'no audio track'
  WHEN 'no_speech' THEN 'no speech found' END, 'durationS', t.duration_s, 'text', t.text, 'segments', t.segments,
  'createdAt', t.created_at, 'updatedAt', t.updated_at)"""

# Export also carries the embedding (as pgvector's text form) so an import restores similarity search.
SUMMARY_EXPORT = SUMMARY[:-1] + ", 'embedding', s.embedding::text)"

# Export carries the dedupe key too, so re-persisting an imported job's result still inserts nothing.
ANNOTATION_EXPORT = ANNOTATION[:-1] + ", 'dedupeKey', a.dedupe_key)"

JOB = """json_build_object('id', j.id, 'queue', j.queue, 'kind', j.kind, 'status', j.status, 'progress', j.progress,
  'videoId', j.video_id, 'personaId', j.persona_id, 'params', j.params, 'result', j.result, 'error', j.error,
  'createdAt', j.created_at, 'updatedAt', j.updated_at, 'startedAt', j.started_at, 'finishedAt', j.finished_at,
  'detail', j.detail,
  'createdBy', (SELECT u.username FROM users u WHERE u.id = j.created_by))"""
