/**
 * The annotation model in the side panel: the selected track's world entity (pick one, or make one from the track)
 * and its other appearances, its attributes (fixed ones for the track, mutable ones at this frame), its lock and its
 * relations; and the events of the video (mark one, fill its role slots, split, delete). Everything edits through
 * the document's commands, which refuse what the ontology does not allow: the message stands where it happened.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { world, type AttributeDefinition, type Ontology, type World, type WorldItem } from "../api";
import type { EditResult } from "../editor/document";
import { attributesAt } from "../editor/keyframes";
import type { AnnotationEvent, AttributeValue, Ref, Track } from "../editor/types";
import { FieldInput } from "../ui/fields";
import { errorText } from "../ui/format";
import { useDocVersion, usePlayer, useUi, type Workspace } from "./workspace";

/** The ontology and world the panels read (the workspace page keeps them on the document's semantics too). */
export interface ModelContext {
  personaId: string | null;
  ontology: Ontology | undefined;
  entities: WorldItem[];
}

function Problem({ result, testId }: { result: EditResult | null; testId: string }) {
  if (!result || result.ok) return null;
  return <div className="error-text" role="alert" data-testid={testId}>{result.problem.message}</div>;
}

const nameIn = (list: Array<{ id: string; name: string }> | undefined, id: string) => list?.find((t) => t.id === id)?.name || id;

function AttributeInput({ definition, value, onChange, testId }: {
  definition: AttributeDefinition; value: AttributeValue | undefined; onChange: (v: AttributeValue) => void; testId: string;
}) {
  if (definition.type === "checkbox") {
    return <input type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} data-testid={testId} />;
  }
  if (definition.type === "choice") {
    return (
      <select value={value === undefined ? "" : String(value)} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        <option value="" disabled>—</option>
        {(definition.options ?? []).map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    );
  }
  return (
    <input type={definition.type === "number" ? "number" : "text"} defaultValue={value === undefined ? "" : String(value)} key={String(value)}
      data-testid={testId} onKeyDown={(e) => e.stopPropagation()}
      onBlur={(e) => { const v = e.target.value; if (v !== String(value ?? "")) onChange(definition.type === "number" ? Number(v) : v); }} />
  );
}

/** Where a mutable attribute's value at this frame comes from: set here, held from an earlier keyframe, or unset. */
function heldNote(track: Track, frame: number, name: string): string {
  const from = [...track.frames].reverse().find((k) => k.frame <= frame && k.attributes && name in k.attributes);
  if (!from) return `not set by frame ${frame}`;
  return from.frame === frame ? `set at frame ${frame}` : `held from frame ${from.frame}`;
}

/** The selected track beyond its box: entity, attributes, lock, relations (read from the document on every change of
 * it, so a link or an attribute shows at once). */
export function TrackModelSection({ ws, trackId, context }: { ws: Workspace; trackId: string; context: ModelContext }) {
  useDocVersion(ws);
  const track = ws.doc.get(trackId);
  if (!track) return null;
  return <TrackModel ws={ws} track={track} context={context} />;
}

function TrackModel({ ws, track, context }: { ws: Workspace; track: Track; context: ModelContext }) {
  const { frame } = usePlayer(ws);
  const queryClient = useQueryClient();
  const [result, setResult] = useState<EditResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const type = context.ontology?.entityTypes.find((t) => t.id === track.type);
  const definitions = type?.attributes ?? [];
  const held = attributesAt(track.frames, frame);
  const seen = useQuery({ queryKey: ["appearances", track.entityId], enabled: !!track.entityId,
    queryFn: () => world.appearances(track.entityId!) });

  /** A new world entity named like the track, typed by this persona as the track is (when that is one of its entity
   * types), then linked: one append on the server, nobody else's world edits touched. */
  async function newEntity() {
    setError(null);
    try {
      const typed = context.personaId && context.ontology?.entityTypes.some((t) => t.id === track.type);
      const entity = await world.create("entities", { id: `entity-${crypto.randomUUID().slice(0, 8)}`, name: track.label, description: "",
        typeAssignments: typed ? [{ personaId: context.personaId!, entityTypeId: track.type }] : [] });
      queryClient.setQueryData<World>(["world"], (w) => w && { ...w, entities: [...w.entities, entity] });
      setResult(ws.doc.linkEntity(track.id, entity.id));
    } catch (e) { setError(errorText(e)); }
  }

  const relations = ws.doc.relations().filter((r) => (r.source.kind === "track" && r.source.id === track.id) || (r.target.kind === "track" && r.target.id === track.id));
  return (
    <div className="model-section" data-testid="track-model">
      <h3>World entity</h3>
      <div className="row">
        <select value={track.entityId ?? ""} onChange={(e) => setResult(ws.doc.linkEntity(track.id, e.target.value || null))}
          data-testid="entity-select" aria-label="world entity" disabled={track.locked}>
          <option value="">(none)</option>
          {context.entities.map((e) => <option key={e.id} value={e.id}>{e.name || e.id}</option>)}
        </select>
        <button onClick={newEntity} disabled={track.locked} data-testid="entity-new" title="A new world entity named like this track">+ from track</button>
      </div>
      {error && <div className="error-text">{error}</div>}
      {track.entityId && (
        <ul className="plain-list appearances" data-testid="entity-appearances">
          {(seen.data ?? []).filter((a) => a.trackId !== track.id).map((a) => (
            <li key={a.trackId} data-testid="entity-appearance" data-video-id={a.videoId}>
              <Link to={`/videos/${a.videoId}?frame=${a.startFrame}`} reloadDocument>{a.filename}</Link> <span className="muted">frames {a.startFrame}–{a.endFrame} · {a.label}</span>
            </li>
          ))}
          {seen.data && seen.data.filter((a) => a.trackId !== track.id).length === 0 && <li className="muted">seen nowhere else yet</li>}
        </ul>
      )}
      {definitions.length > 0 && <h3>Attributes</h3>}
      <dl className="facts" data-testid="attributes">
        {definitions.map((d) => (
          <div key={d.id} className="attribute" data-testid="attribute" data-name={d.name}>
            <dt title={d.mutable ? "changes over time: set at a frame, held until a later keyframe changes it" : "fixed for the whole track"}>{d.name}</dt>
            <dd>
              <AttributeInput definition={d} testId={`attribute-${d.name}`}
                value={d.mutable ? held[d.name] : track.attributes?.[d.name]}
                onChange={(v) => setResult(d.mutable ? ws.doc.setKeyframeAttribute(track.id, frame, d.name, v) : ws.doc.setTrackAttribute(track.id, d.name, v))} />
              {d.mutable && <div className="muted small" data-testid="attribute-held">{heldNote(track, frame, d.name)}</div>}
            </dd>
          </div>
        ))}
      </dl>
      <label className="row"><input type="checkbox" checked={!!track.locked} onChange={(e) => setResult(ws.doc.setLocked(track.id, e.target.checked))}
        data-testid="track-lock" /> locked against edits (L)</label>
      <Problem result={result} testId="track-model-error" />
      <RelationsSection ws={ws} track={track} context={context} relations={relations} />
    </div>
  );
}

function describeRef(ws: Workspace, context: ModelContext, ref: Ref): string {
  if (ref.kind === "entity") return `entity ${context.entities.find((e) => e.id === ref.id)?.name ?? ref.id}`;
  const o = ref.kind === "track" ? ws.doc.get(ref.id) : ws.doc.event(ref.id);
  return o ? `${ref.kind} ${o.label}` : `(missing ${ref.kind})`;
}

function RelationsSection({ ws, track, context, relations }: { ws: Workspace; track: Track; context: ModelContext; relations: ReturnType<Workspace["doc"]["relations"]> }) {
  const types = context.ontology?.relationTypes ?? [];
  const [type, setType] = useState("");
  const [target, setTarget] = useState("");
  const [result, setResult] = useState<EditResult | null>(null);
  const targets: Array<{ key: string; ref: Ref; name: string }> = [
    ...ws.doc.list().filter((t) => t.id !== track.id).map((t) => ({ key: `track:${t.id}`, ref: { kind: "track" as const, id: t.id }, name: `track ${t.label}` })),
    ...ws.doc.events().map((e) => ({ key: `event:${e.id}`, ref: { kind: "event" as const, id: e.id }, name: `event ${e.label}` })),
    ...context.entities.map((e) => ({ key: `entity:${e.id}`, ref: { kind: "entity" as const, id: e.id }, name: `entity ${e.name || e.id}` })),
  ];
  return (
    <>
      <h3>Relations</h3>
      <ul className="plain-list" data-testid="relations">
        {relations.map((r) => (
          <li key={r.id} data-testid="relation" data-relation-id={r.id}>
            {describeRef(ws, context, r.source)} <b>{nameIn(types, r.type)}</b> {describeRef(ws, context, r.target)}
            <button className="icon bad" title="Delete relation" onClick={() => ws.doc.deleteRelations([r.id])}>✕</button>
          </li>
        ))}
      </ul>
      <div className="row">
        <select value={type} onChange={(e) => setType(e.target.value)} data-testid="relation-type" aria-label="relation type">
          <option value="">relation…</option>
          {types.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
        </select>
        <select value={target} onChange={(e) => setTarget(e.target.value)} data-testid="relation-target" aria-label="relation target">
          <option value="">to…</option>
          {targets.map((t) => <option key={t.key} value={t.key}>{t.name}</option>)}
        </select>
        <button disabled={!type || !target} data-testid="relation-add" onClick={() => {
          const to = targets.find((t) => t.key === target)!.ref;
          setResult(ws.doc.addRelation({ id: crypto.randomUUID(), type, personaId: context.personaId, source: { kind: "track", id: track.id },
            target: to, attributes: {} }));
        }}>Add</button>
      </div>
      <Problem result={result} testId="relation-error" />
    </>
  );
}

/** The video's events: mark one at the playhead, fill its roles with the selected track or a world entity. */
export function EventsPanel({ ws, context }: { ws: Workspace; context: ModelContext }) {
  useDocVersion(ws);
  const ui = useUi(ws);
  const { frame } = usePlayer(ws);
  const eventTypes = context.ontology?.eventTypes ?? [];
  const [typeId, setTypeId] = useState("");
  const [result, setResult] = useState<EditResult | null>(null);
  const events = ws.doc.events();
  const selected = ui.selectedEvent ? ws.doc.event(ui.selectedEvent) : undefined;
  const last = Math.max(0, (ws.player.frameCount ?? frame + 1) - 1);

  function mark() {
    const type = eventTypes.find((t) => t.id === typeId) ?? eventTypes[0];
    if (!type) return;
    const id = crypto.randomUUID();
    const event: AnnotationEvent = { id, type: type.id, label: type.name || type.id, personaId: context.personaId, source: "manual",
      startFrame: frame, endFrame: Math.min(last, frame + 10), roles: {}, attributes: {} };
    const done = ws.doc.addEvent(event);
    setResult(done);
    if (done.ok) ws.ui.set({ selectedEvent: id, selected: null });
  }

  return (
    <div className="panel-section" data-testid="events-panel">
      <h3>Events</h3>
      {eventTypes.length === 0 ? <p className="muted">No event types: add them on the Ontology page.</p> : (
        <div className="row">
          <select value={typeId} onChange={(e) => setTypeId(e.target.value)} data-testid="event-type" aria-label="event type">
            {eventTypes.map((t) => <option key={t.id} value={t.id}>{t.name}{(t.roles ?? []).length ? "" : " (tag)"}</option>)}
          </select>
          <button onClick={mark} data-testid="event-mark" title="Mark an event from this frame (E)">Mark at {frame}</button>
        </div>
      )}
      <ul className="plain-list" data-testid="event-list">
        {events.map((e) => (
          <li key={e.id} className={e.id === ui.selectedEvent ? "active" : ""} data-testid="event-item" data-event-id={e.id}
            onClick={() => { ws.ui.set({ selectedEvent: e.id, selected: null }); ws.player.seek(e.startFrame); }}>
            <b>{nameIn(eventTypes, e.type)}</b> <span className="muted">{e.startFrame}–{e.endFrame}</span>
            {Object.values(e.roles).flat().length > 0 && <span className="muted"> · {Object.values(e.roles).flat().length} participant(s)</span>}
          </li>
        ))}
      </ul>
      {selected && <EventDetails key={selected.id} ws={ws} event={selected} context={context} />}
      <Problem result={result} testId="event-error" />
    </div>
  );
}

function EventDetails({ ws, event, context }: { ws: Workspace; event: AnnotationEvent; context: ModelContext }) {
  const ui = useUi(ws);
  const { frame } = usePlayer(ws);
  const type = context.ontology?.eventTypes.find((t) => t.id === event.type);
  const roleTypes = context.ontology?.roleTypes ?? [];
  const selectedTrack = ui.selected ? ws.doc.get(ui.selected) : undefined;
  const [entity, setEntity] = useState<Record<string, string>>({});
  // A refusal stands where it happened: under the role slot it is about, else under the event.
  const [result, setResult] = useState<EditResult | null>(null);
  const where = result && !result.ok ? result.problem.field : "";
  const inRole = (roleId: string) => where === `roles.${roleId}` || where.startsWith(`roles.${roleId}.`);
  const atRole = (type?.roles ?? []).some((slot) => inRole(slot.roleTypeId));
  return (
    <div className="event-details" data-testid="event-details" data-event-id={event.id}>
      <div className="row">
        <label className="check">from <FieldInput type="number" width={72} value={event.startFrame} testId="event-start" placeholder="first frame"
          commit={(to) => setResult(ws.doc.setEventSpan(event.id, Number(to), event.endFrame))} /></label>
        <label className="check">to <FieldInput type="number" width={72} value={event.endFrame} testId="event-end" placeholder="last frame"
          commit={(to) => setResult(ws.doc.setEventSpan(event.id, event.startFrame, Number(to)))} /></label>
      </div>
      {(type?.roles ?? []).map((slot) => {
        const fillers = event.roles[slot.roleTypeId] ?? [];
        return (
          <div key={slot.roleTypeId} className="role" data-testid="role" data-role={slot.roleTypeId}>
            <div className="role-name"><b>{nameIn(roleTypes, slot.roleTypeId)}</b>{slot.optional ? <span className="muted"> (optional)</span> : null}</div>
            <div className="role-fillers">
              {fillers.length === 0 && <span className="muted">empty</span>}
              {fillers.map((f) => (
                <span key={f.kind + f.id} className="filler" data-testid="role-filler" data-kind={f.kind} data-id={f.id}>
                  {describeRef(ws, context, f)}
                  <button className="icon" title="Remove" onClick={() => setResult(ws.doc.unfillRole(event.id, slot.roleTypeId, f))}>✕</button>
                </span>
              ))}
            </div>
            <div className="row tight">
              <button disabled={!selectedTrack} data-testid="role-fill-track" title="The track selected on the video or in the timeline"
                onClick={() => selectedTrack && setResult(ws.doc.fillRole(event.id, slot.roleTypeId, { kind: "track", id: selectedTrack.id }))}>
                + {selectedTrack ? selectedTrack.label : "selected track"}
              </button>
              <select value={entity[slot.roleTypeId] ?? ""} aria-label="entity" data-testid="role-entity"
                onChange={(e) => {
                  setEntity({ ...entity, [slot.roleTypeId]: "" });
                  if (e.target.value) setResult(ws.doc.fillRole(event.id, slot.roleTypeId, { kind: "entity", id: e.target.value }));
                }}>
                <option value="">+ world entity…</option>
                {context.entities.map((e) => <option key={e.id} value={e.id}>{e.name || e.id}</option>)}
              </select>
            </div>
            {inRole(slot.roleTypeId) && <Problem result={result} testId="event-error" />}
          </div>
        );
      })}
      {(type?.attributes ?? []).length > 0 && (
        <dl className="facts" data-testid="event-attributes">
          {(type?.attributes ?? []).map((d) => (
            <div key={d.id} className="attribute" data-testid="event-attribute" data-name={d.name}>
              <dt title="fixed for the whole event">{d.name}</dt>
              <dd><AttributeInput definition={d} testId={`event-attribute-${d.name}`} value={event.attributes[d.name]}
                onChange={(v) => setResult(ws.doc.updateEvent(event.id, { attributes: { ...event.attributes, [d.name]: v } }, `set ${d.name}`))} /></dd>
            </div>
          ))}
        </dl>
      )}
      {!atRole && <Problem result={result} testId="event-error" />}
      <div className="row">
        <button onClick={() => setResult(ws.doc.splitEvent(event.id, frame, crypto.randomUUID()))} data-testid="event-split">Split at {frame} (X)</button>
        <button className="danger" onClick={() => { ws.doc.deleteEvents([event.id]); ws.ui.set({ selectedEvent: null }); }} data-testid="event-delete">Delete</button>
      </div>
    </div>
  );
}
