/**
 * The world state: the real things, happenings, times and places behind the annotations, shared by every persona.
 * Each object is written on its own the moment a field is done (the server merges per object and field, so two
 * people editing the world at once keep each other's work; a field someone changed meanwhile is refused with a
 * message and the page shows theirs). Entities and events are typed per persona; entities list where they are seen,
 * each appearance a link into the workspace at its first frame.
 */
import { useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link } from "react-router-dom";
import {
  ApiError, personas, videos, world, WORLD_KINDS, type Appearance, type Ontology, type Persona, type Video, type World,
  type WorldItem, type WorldKind, type WorldRefKind,
} from "../api";
import { formatTime } from "../editor/time";
import { errorText } from "../ui/format";
import { Choice, DateTimeInput, FieldInput, formatCoordinates, type Commit } from "../ui/fields";

const TITLES: Record<WorldKind, string> = {
  entities: "Entities", events: "Events", times: "Times", locations: "Locations", collections: "Collections", relations: "Relations",
};
const SINGULAR: Record<WorldKind, string> = {
  entities: "entity", events: "event", times: "time", locations: "location", collections: "collection", relations: "relation",
};
const KIND_OF_REF: Record<WorldRefKind, WorldKind> = { entity: "entities", event: "events", time: "times", location: "locations" };
const REF_KINDS = Object.keys(KIND_OF_REF) as WorldRefKind[];
/** The persona the workspace uses (the same key), so the World page types things as the person works. */
const PERSONA_KEY = "fovea.persona";

/** What every cell may read: the world, the personas with their ontologies, the videos, where entities are seen. */
interface Context {
  world: World;
  personas: Array<{ persona: Persona; ontology: Ontology | undefined }>;
  videos: Video[];
  seen: Map<string, Appearance[]>;
  /** The persona whose types this page edits (the others' are shown). */
  personaId: string | null;
}

/** A row's writes: a field (`commit`) and, for entities and events, one persona's type (`assign`). */
interface Editing {
  set: (field: string) => Commit;
  assign: (personaId: string, typeId: string | null) => void;
}

interface Column {
  title: ReactNode;
  wide?: boolean;
  cell: (item: WorldItem, edit: Editing, context: Context) => ReactNode;
}

const newId = (kind: WorldKind) => `${SINGULAR[kind]}-${crypto.randomUUID().slice(0, 8)}`;

function optionsOf(context: Context, kind: WorldRefKind) {
  return context.world[KIND_OF_REF[kind]].map((o) => ({ id: o.id, name: o.name || o.id }));
}

/** The type the chosen persona gives it (editable), and how the other personas type it (read here, each edits its own). */
function typeColumns(kind: "entities" | "events", context: Context): Column[] {
  const key = kind === "entities" ? "entityTypeId" : "eventTypeId";
  const typesOf = (ontology: Ontology | undefined) => (kind === "entities" ? ontology?.entityTypes : ontology?.eventTypes) ?? [];
  const chosen = context.personas.find((p) => p.persona.id === context.personaId);
  if (!chosen) return [];
  return [{
    title: <span title={`how ${chosen.persona.name} types it`}>Type for {chosen.persona.name}</span>,
    cell: (item, edit) => (
      <Choice label={`${chosen.persona.name}'s type`} testId="world-type" empty="—" options={typesOf(chosen.ontology)}
        value={item.typeAssignments?.find((a) => a.personaId === chosen.persona.id)?.[key]}
        commit={(to) => edit.assign(chosen.persona.id, (to as string | null) ?? null)} />
    ),
  }, {
    title: "Other personas",
    cell: (item) => {
      const others = (item.typeAssignments ?? []).filter((a) => a.personaId !== chosen.persona.id && a[key]);
      if (others.length === 0) return <span className="muted">—</span>;
      return (
        <span className="muted" data-testid="world-other-types">
          {others.map((a) => {
            const other = context.personas.find((p) => p.persona.id === a.personaId);
            const type = typesOf(other?.ontology).find((t) => t.id === a[key]);
            return `${other?.persona.name ?? "another persona"}: ${type?.name ?? a[key]}`;
          }).join(" · ")}
        </span>
      );
    },
  }];
}

const NAME: Column = { title: "Name", cell: (item, edit) => <FieldInput value={item.name} commit={edit.set("name")} placeholder="name" testId="world-item-name" /> };
const DESCRIPTION: Column = {
  title: "Description", wide: true,
  cell: (item, edit) => <FieldInput value={item.description} commit={edit.set("description")} placeholder="description" testId="world-item-description" />,
};

function Appearances({ item, context }: { item: WorldItem; context: Context }) {
  const seen = context.seen.get(item.id) ?? [];
  if (seen.length === 0) return <span className="muted">not linked to a track yet</span>;
  return (
    <ul className="plain-list appearances" data-testid="world-appearances">
      {seen.map((a) => {
        const at = (frame: number) => (a.fps ? formatTime(frame / a.fps) : `frame ${frame}`);
        return (
          <li key={a.trackId} data-testid="world-appearance" data-video-id={a.videoId} data-frame={a.startFrame}>
            <Link to={`/videos/${a.videoId}?frame=${a.startFrame}`} title={`open ${a.filename} at frame ${a.startFrame}`}>{a.filename}</Link>{" "}
            <span className="muted">{at(a.startFrame)}–{at(a.endFrame)} · {a.label}</span>
          </li>
        );
      })}
    </ul>
  );
}

/** Where a time was seen: a video and its frame(s), with the video time and a link there. */
function SeenAt({ item, edit, context }: { item: WorldItem; edit: Editing; context: Context }) {
  const video = context.videos.find((v) => v.id === item.videoId);
  const time = (frame: number | undefined) => (frame !== undefined && video?.fps ? formatTime(frame / video.fps) : "");
  return (
    <div className="row tight wrap">
      <Choice label="video" testId="time-video" empty="no video" value={item.videoId} commit={edit.set("videoId")}
        options={context.videos.map((v) => ({ id: v.id, name: v.filename }))} />
      {item.videoId && <>
        <FieldInput type="number" width={70} value={item.frame} commit={edit.set("frame")} placeholder="frame" testId="time-frame" />
        {item.timeType === "interval" && <>–<FieldInput type="number" width={70} value={item.endFrame} commit={edit.set("endFrame")} placeholder="last frame" testId="time-end-frame" /></>}
        {item.frame !== undefined && (
          <Link className="nowrap" to={`/videos/${item.videoId}?frame=${item.frame}`} data-testid="time-jump" title="open the video there">
            ▶ {time(item.frame)}{item.timeType === "interval" && item.endFrame !== undefined ? `–${time(item.endFrame)}` : ""}
          </Link>
        )}
      </>}
    </div>
  );
}

function columnsOf(kind: WorldKind, context: Context): Column[] {
  switch (kind) {
    case "entities":
      return [NAME, ...typeColumns("entities", context),
        { title: "Seen in", cell: (item) => <Appearances item={item} context={context} /> }, DESCRIPTION];
    case "events":
      return [NAME, ...typeColumns("events", context),
        { title: "When", cell: (item, edit) => <Choice label="time" testId="event-time" empty="—" value={item.timeId} commit={edit.set("timeId")} options={optionsOf(context, "time")} /> },
        { title: "Where", cell: (item, edit) => <Choice label="location" testId="event-location" empty="—" value={item.locationId} commit={edit.set("locationId")} options={optionsOf(context, "location")} /> },
        DESCRIPTION];
    case "times":
      return [NAME,
        { title: "When", cell: (item, edit) => (
          <div className="row tight">
            <Choice label="instant or interval" testId="time-type" value={item.timeType ?? "instant"} commit={edit.set("timeType")}
              options={[{ id: "instant", name: "instant" }, { id: "interval", name: "interval" }]} />
            {(item.timeType ?? "instant") === "instant"
              ? <DateTimeInput label="at" value={item.at} commit={edit.set("at")} testId="time-at" />
              : <div className="stack">
                <DateTimeInput label="start" value={item.start} commit={edit.set("start")} testId="time-start" />
                <DateTimeInput label="end" value={item.end} commit={edit.set("end")} testId="time-end" />
              </div>}
          </div>) },
        { title: "Seen in", cell: (item, edit) => <SeenAt item={item} edit={edit} context={context} /> },
        DESCRIPTION];
    case "locations":
      return [NAME,
        { title: "Latitude", cell: (item, edit) => <FieldInput type="number" step="any" width={110} value={item.latitude} commit={edit.set("latitude")} placeholder="latitude" testId="location-latitude" /> },
        { title: "Longitude", cell: (item, edit) => <FieldInput type="number" step="any" width={110} value={item.longitude} commit={edit.set("longitude")} placeholder="longitude" testId="location-longitude" /> },
        { title: "", cell: (item) => <span className="muted" data-testid="location-coordinates">{formatCoordinates(item.latitude, item.longitude)}</span> },
        DESCRIPTION];
    case "collections":
      return [NAME,
        { title: "Of", cell: (item, edit) => <Choice label="member kind" testId="collection-kind" value={item.memberKind ?? "entity"} commit={edit.set("memberKind")}
          options={REF_KINDS.map((k) => ({ id: k, name: TITLES[KIND_OF_REF[k]].toLowerCase() }))} /> },
        { title: "Members", wide: true, cell: (item, edit) => <Members item={item} commit={edit.set("members")} context={context} /> },
        DESCRIPTION];
    case "relations":
      return [
        { title: "Persona", cell: (item, edit) => <Choice label="persona" testId="relation-persona" empty="persona…" value={item.personaId} commit={edit.set("personaId")}
          options={context.personas.map(({ persona }) => persona)} /> },
        { title: "Source", cell: (item, edit) => <RefChoice label="source" value={item.source} commit={edit.set("source")} context={context} /> },
        { title: "Relation", cell: (item, edit) => <Choice label="relation type" testId="relation-type" empty="type…" value={item.type} commit={edit.set("type")}
          options={context.personas.find((p) => p.persona.id === item.personaId)?.ontology?.relationTypes ?? []} /> },
        { title: "Target", cell: (item, edit) => <RefChoice label="target" value={item.target} commit={edit.set("target")} context={context} /> },
        DESCRIPTION];
  }
}

function RefChoice({ label, value, commit, context }: { label: string; value: WorldItem["source"]; commit: Commit; context: Context }) {
  const options = REF_KINDS.flatMap((k) => optionsOf(context, k).map((o) => ({ id: `${k}:${o.id}`, name: `${SINGULAR[KIND_OF_REF[k]]} · ${o.name}` })));
  return <Choice label={label} testId={`relation-${label}`} empty={`${label}…`} value={value ? `${value.kind}:${value.id}` : undefined} options={options}
    commit={(to) => {
      const text = to as string | null;
      commit(text ? { kind: text.slice(0, text.indexOf(":")), id: text.slice(text.indexOf(":") + 1) } : null, value ?? null);
    }} />;
}

function Members({ item, commit, context }: { item: WorldItem; commit: Commit; context: Context }) {
  const members = item.members ?? [];
  const candidates = optionsOf(context, item.memberKind ?? "entity");
  return (
    <div className="members" data-testid="collection-members">
      {candidates.length === 0 && <span className="muted">none of this kind yet</span>}
      {candidates.map((c) => (
        <label key={c.id} className="member">
          <input type="checkbox" checked={members.includes(c.id)} data-testid="collection-member" data-id={c.id}
            onChange={(e) => commit(e.target.checked ? [...members, c.id] : members.filter((m) => m !== c.id), members)} />
          {c.name}
        </label>
      ))}
    </div>
  );
}

/** What a new object of each kind starts as (the fields its form shows). */
function blank(kind: WorldKind): WorldItem {
  const base = { id: newId(kind), name: "", description: "" };
  if (kind === "times") return { ...base, timeType: "instant" };
  if (kind === "collections") return { ...base, memberKind: "entity", members: [] };
  if (kind === "relations") return { ...base };
  return base;
}

/** A server problem in words, naming the field it is about. */
function problemText(error: unknown): string {
  if (error instanceof ApiError) {
    const detail = error.detail;
    if (detail.length > 1) return detail.map((d) => d.msg).join("; ");
    if (detail[0]?.msg) {
      const field = (detail[0].loc ?? []).filter((p) => !["body", "fields", "to", "from"].includes(String(p))).join(".");
      return field ? `${field}: ${detail[0].msg}` : String(detail[0].msg);
    }
  }
  return errorText(error);
}

function useWorldCache() {
  const queryClient = useQueryClient();
  return {
    put(kind: WorldKind, item: WorldItem) {
      queryClient.setQueryData<World>(["world"], (w) => w && {
        ...w, [kind]: w[kind].some((o) => o.id === item.id) ? w[kind].map((o) => (o.id === item.id ? item : o)) : [...w[kind], item],
      });
    },
    drop(kind: WorldKind, id: string) {
      queryClient.setQueryData<World>(["world"], (w) => w && { ...w, [kind]: w[kind].filter((o) => o.id !== id) });
    },
    refresh: () => queryClient.invalidateQueries({ queryKey: ["world"] }),
  };
}

function StoredRow({ kind, item, columns, context }: { kind: WorldKind; item: WorldItem; columns: Column[]; context: Context }) {
  const cache = useWorldCache();
  const [problem, setProblem] = useState<string | null>(null);
  async function write(run: () => Promise<WorldItem>) {
    setProblem(null);
    try {
      cache.put(kind, await run());
    } catch (error) {
      setProblem(problemText(error));
      // Someone else changed it meanwhile: show theirs (the message says what happened).
      if (error instanceof ApiError && error.status === 409) void cache.refresh();
    }
  }
  const edit: Editing = {
    set: (field) => (to, from) => void write(() => world.patch(kind, item.id, { [field]: { from: from ?? null, to: to ?? null } })),
    assign: (personaId, typeId) => void write(() => world.assignType(kind as "entities" | "events", item.id, personaId, typeId)),
  };
  async function remove() {
    setProblem(null);
    try {
      await world.remove(kind, item.id);
      cache.drop(kind, item.id);
    } catch (error) { setProblem(problemText(error)); }
  }
  return (
    <>
      <tr data-testid="world-item" data-id={item.id} className={problem ? "has-problem" : ""}>
        {columns.map((c, i) => <td key={i} className={c.wide ? "wide" : ""}>{c.cell(item, edit, context)}</td>)}
        <td><button className="icon bad" title={`Delete this ${SINGULAR[kind]}`} onClick={remove} data-testid="world-item-delete">✕</button></td>
      </tr>
      {problem && <tr className="problem-row"><td colSpan={columns.length + 1} className="error-text" role="alert" data-testid="world-item-error">{problem}</td></tr>}
    </>
  );
}

function NewRow({ kind, columns, context }: { kind: WorldKind; columns: Column[]; context: Context }) {
  const cache = useWorldCache();
  const [draft, setDraft] = useState<WorldItem>(() => blank(kind));
  const [problem, setProblem] = useState<string | null>(null);
  const edit: Editing = {
    set: (field) => (to) => setDraft((d) => {
      const next = { ...d };
      if (to === null || to === undefined) delete next[field];
      else next[field] = to;
      return next;
    }),
    assign: (personaId, typeId) => setDraft((d) => {
      const key = kind === "entities" ? "entityTypeId" : "eventTypeId";
      const others = (d.typeAssignments ?? []).filter((a) => a.personaId !== personaId);
      return { ...d, typeAssignments: typeId ? [...others, { personaId, [key]: typeId }] : others };
    }),
  };
  async function create() {
    setProblem(null);
    try {
      cache.put(kind, await world.create(kind, draft));
      setDraft(blank(kind));
    } catch (error) { setProblem(problemText(error)); }
  }
  return (
    <>
      <tr className="new-row" data-testid={`world-new-${kind}`} key={draft.id}>
        {columns.map((c, i) => <td key={i} className={c.wide ? "wide" : ""}>{c.cell(draft, edit, context)}</td>)}
        <td><button className="primary" onClick={create} data-testid={`world-add-${kind}`}>Add</button></td>
      </tr>
      {problem && <tr className="problem-row"><td colSpan={columns.length + 1} className="error-text" role="alert" data-testid="world-new-error">{problem}</td></tr>}
    </>
  );
}

function Section({ kind, context }: { kind: WorldKind; context: Context }) {
  // Columns that need a stored object (where an entity is seen) show nothing useful on the new row.
  const columns = columnsOf(kind, context);
  const fresh = columns.map((c) => (c.title === "Seen in" && kind === "entities" ? { ...c, cell: () => null } : c));
  return (
    <div className="card world-section" data-testid={`world-${kind}`}>
      <table className="grid-table world-table">
        <thead><tr>{columns.map((c, i) => <th key={i}>{c.title}</th>)}<th /></tr></thead>
        <tbody>
          {context.world[kind].map((item) => <StoredRow key={item.id} kind={kind} item={item} columns={columns} context={context} />)}
          <NewRow kind={kind} columns={fresh} context={context} />
        </tbody>
      </table>
    </div>
  );
}

export function WorldPage() {
  const query = useQuery({ queryKey: ["world"], queryFn: world.get, refetchInterval: 10_000 });
  const personaList = useQuery({ queryKey: ["personas"], queryFn: personas.list });
  const videoList = useQuery({ queryKey: ["videos"], queryFn: videos.list });
  const seen = useQuery({ queryKey: ["appearances"], queryFn: () => world.appearances(), refetchInterval: 10_000 });
  const visible = (personaList.data ?? []).filter((p) => !p.hidden);
  const ontologies = useQueries({ queries: visible.map((p) => ({ queryKey: ["ontology", p.id], queryFn: () => personas.ontology(p.id) })) });
  const [tab, setTab] = useState<WorldKind>("entities");
  // The persona the workspace last used, unless it is gone or hidden.
  const [personaId, setPersonaId] = useState<string | null>(() => localStorage.getItem(PERSONA_KEY));
  const persona = visible.find((p) => p.id === personaId) ?? visible[0];
  if (query.error) return <div className="error-box">{errorText(query.error)}</div>;
  if (!query.data) return <p className="muted">Loading…</p>;

  const byEntity = new Map<string, Appearance[]>();
  for (const a of seen.data ?? []) byEntity.set(a.entityId, [...(byEntity.get(a.entityId) ?? []), a]);
  const context: Context = {
    world: query.data, videos: videoList.data ?? [], seen: byEntity,
    personas: visible.map((p, i) => ({ persona: p, ontology: ontologies[i]?.data })), personaId: persona?.id ?? null,
  };
  return (
    <section>
      <div className="page-head">
        <h2>World state</h2>
        <label className="persona-select">types of persona
          <select value={persona?.id ?? ""} data-testid="world-persona" onChange={(e) => { setPersonaId(e.target.value); localStorage.setItem(PERSONA_KEY, e.target.value); }}>
            {visible.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
          </select>
        </label>
        <span className="muted">Shared by every persona, each typing entities and events its own way. Changes save as you make them.</span>
      </div>
      <div className="tabs page-tabs" role="tablist">
        {WORLD_KINDS.map((k) => (
          <button key={k} role="tab" aria-selected={tab === k} className={tab === k ? "active" : ""} onClick={() => setTab(k)} data-testid={`world-tab-${k}`}>
            {TITLES[k]} <span className="count">{query.data[k].length}</span>
          </button>
        ))}
      </div>
      <Section key={tab} kind={tab} context={context} />
    </section>
  );
}
