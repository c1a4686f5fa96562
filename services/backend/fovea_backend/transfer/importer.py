"""An import run: each line read, checked and written in turn inside one transaction; a dry run reports instead."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

from fovea_backend.schemas import ImportConflict, ImportOut, ImportPreviewOut
from fovea_backend.state import BackendState
from fovea_backend.store import transfer as store
from fovea_backend.transfer.records import LineError, read_record

MAX_PREVIEW_ERRORS = 1000  # listed in a dry run's report, each of errors and conflicts; the totals are exact


@dataclass
class ImportReport:
    """What an import did or, in a dry run, would do: exact counts, the first MAX_PREVIEW_ERRORS of each list."""

    counts: dict[str, int] = field(default_factory=dict)
    conflicts: list[ImportConflict] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    replaced: dict[str, int] = field(default_factory=dict)  # per kind: every conflict, counted
    error_count: int = 0

    def conflict(self, found: ImportConflict) -> None:
        self.replaced[found.kind] = self.replaced.get(found.kind, 0) + 1
        if len(self.conflicts) < MAX_PREVIEW_ERRORS:
            self.conflicts.append(found)

    def error(self, failed: LineError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_PREVIEW_ERRORS:
            self.errors.append(failed)

    def preview(self) -> ImportPreviewOut:
        # Each record is either new or replaces a row: listed once, under one of the two.
        added = {kind: n - self.replaced.get(kind, 0) for kind, n in self.counts.items() if n > self.replaced.get(kind, 0)}
        return ImportPreviewOut(would_import=self.counts, would_add=added, would_replace=self.replaced,
                                conflicts=self.conflicts, errors=[e.out() for e in self.errors],
                                conflict_count=sum(self.replaced.values()), error_count=self.error_count)


def import_jsonl(state: BackendState, lines: Iterable[tuple[int, bytes | None]], dry_run: bool = False) -> ImportOut | ImportPreviewOut:
    """Read, check and write each line in turn inside one transaction; the first bad line (any bad line, in a
    dry run, which reports them all) rolls it back whole."""
    report = ImportReport()
    records = 0
    with state.pool.connection() as conn:
        # A dry run is the real import in a transaction that is always rolled back: what it reports is exact.
        with conn.transaction(force_rollback=dry_run):
            for number, raw in lines:
                try:
                    parsed = read_record(number, raw)
                    if parsed is None:
                        continue
                    records += 1
                    kind, record = parsed
                    if kind == "header":
                        continue
                    try:
                        with conn.transaction():  # savepoint: in a dry run, report the line and go on
                            found = store.conflict(conn, number, kind, record) if dry_run else None
                            store.write(conn, kind, record)
                    except (psycopg.IntegrityError, psycopg.DataError) as exc:
                        detail = exc.diag.message_detail or exc.diag.message_primary or str(exc)
                        raise LineError(number, store.db_loc(kind, record, exc), f"{kind} conflicts with the database: {detail}") from None
                except LineError as failed:
                    if not dry_run:
                        raise failed.api_error() from None
                    report.error(failed)
                    continue
                report.counts[kind] = report.counts.get(kind, 0) + 1
                if found is not None:
                    report.conflict(found)
            if records == 0 and report.error_count == 0:
                empty = LineError(0, (), "import is empty")
                if not dry_run:
                    raise empty.api_error()
                report.error(empty)
    return report.preview() if dry_run else ImportOut(imported=report.counts)
