"""The portable copy of what people made (GET /api/export?format=jsonl, POST /api/import: routes/transfer.py).

One JSON object per line, `{"type": ..., "data": {...}}`, types in dependency order: header, video,
persona, ontology, world, annotation, summary, transcript. Data uses the API's own camelCase shapes plus ids and
timestamps, so an import into a fresh database reproduces identical rows. Videos are included because
annotations reference them. Import streams: each line is read from the request as it arrives, validated
and written inside one transaction, then dropped, so memory holds one line (at most 16 MiB) whatever the
import's size (up to 256 MiB); any bad line or conflicting row → 422 naming the line and the transaction
is rolled back: nothing written. (The price: the import holds one database connection while it uploads.)

`videoId` limits the video-scoped kinds (video, annotation, summary, transcript) to one video; personas, ontologies
and the world stay, so the file still imports on its own. `interpolate=true` expands each track to every
frame it lasts, by the workspace's rule (see tracks.py); an import keeps only the frames marked `keyframe: true`, so it restores the track.
`POST /api/import?dryRun=true` runs the real import inside a transaction that is always rolled back and
reports what it would import, which rows it would replace, and every bad line: exact, and nothing written.

Split by concern: exporter.py streams an export, records.py reads and checks each line of an import, importer.py runs
an import (or a dry run) in one transaction, and store/transfer.py holds the SQL of both.
"""

FORMAT_VERSION = 1
