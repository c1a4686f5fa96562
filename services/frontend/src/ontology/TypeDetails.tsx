/**
 * What a type means to the annotation model, edited under its row: the attributes of entity and event types (text,
 * number, choice, checkbox; an entity type's may change per keyframe), the role slots of event types, what may fill
 * a role, and what a relation may connect. The draft changes here; the page saves the ontology and shows what the
 * server refused at its place.
 */
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { models, type AttributeDefinition, type Ontology, type OntologyCategory, type OntologyType } from "../api";

const ATTRIBUTE_TYPES: Array<AttributeDefinition["type"]> = ["text", "number", "choice", "checkbox"];

export function TypeDetails({ category, type, ontology, onChange }: {
  category: OntologyCategory; type: OntologyType; ontology: Ontology; onChange: (patch: Partial<OntologyType>) => void;
}) {
  return (
    <div className="type-details" data-testid="type-details">
      {category === "entityTypes" && (
        <DetectorClasses classes={type.detectorClasses} onChange={(detectorClasses) => onChange({ detectorClasses })} />
      )}
      {(category === "entityTypes" || category === "eventTypes") && (
        <Attributes list={type.attributes ?? []} perKeyframe={category === "entityTypes"} onChange={(attributes) => onChange({ attributes })}
          owner={category === "entityTypes" ? "tracks" : "events"} />
      )}
      {category === "eventTypes" && <RoleSlots slots={type.roles ?? []} ontology={ontology} onChange={(roles) => onChange({ roles })} />}
      {category === "roleTypes" && (
        <Constraint title="May be filled by" testId="allowed-fillers" values={type.allowedFillerTypes ?? []} ontology={ontology}
          onChange={(allowedFillerTypes) => onChange({ allowedFillerTypes })} />
      )}
      {category === "relationTypes" && <>
        <Constraint title="From (source)" testId="source-types" values={type.sourceTypes ?? []} ontology={ontology} onChange={(sourceTypes) => onChange({ sourceTypes })} />
        <Constraint title="To (target)" testId="target-types" values={type.targetTypes ?? []} ontology={ontology} onChange={(targetTypes) => onChange({ targetTypes })} />
      </>}
    </div>
  );
}

function Attributes({ list, perKeyframe, onChange, owner }: {
  list: AttributeDefinition[]; perKeyframe: boolean; onChange: (l: AttributeDefinition[]) => void; owner: string;
}) {
  const set = (i: number, patch: Partial<AttributeDefinition>) => onChange(list.map((a, j) => (j === i ? { ...a, ...patch } : a)));
  return (
    <div className="detail-block" data-testid="attributes-editor">
      <h4>Attributes</h4>
      {list.length === 0 && <p className="muted">None: {owner} of this type carry no attributes.</p>}
      {list.map((a, i) => (
        <div className="row tight" key={a.id} data-testid="attribute-definition">
          <input value={a.name} placeholder="attribute name" onChange={(e) => set(i, { name: e.target.value })} data-testid="attribute-name" aria-label="attribute name" />
          <select value={a.type} onChange={(e) => {
            const kind = e.target.value as AttributeDefinition["type"];
            set(i, { type: kind, options: kind === "choice" ? a.options ?? [] : undefined, default: undefined });
          }} data-testid="attribute-type" aria-label="attribute type">
            {ATTRIBUTE_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
          {a.type === "choice" && (
            <OptionsInput options={a.options ?? []} onChange={(options) => set(i, { options })} />
          )}
          {perKeyframe && (
            <label className="check" title="Set per keyframe and held until the next keyframe that sets it (like CVAT's mutable attributes)">
              <input type="checkbox" checked={!!a.mutable} onChange={(e) => set(i, { mutable: e.target.checked })} data-testid="attribute-mutable" /> changes over time
            </label>
          )}
          <button className="icon bad" title="Remove attribute" onClick={() => onChange(list.filter((_, j) => j !== i))} data-testid="attribute-remove">✕</button>
        </div>
      ))}
      <button onClick={() => onChange([...list, { id: `attr-${crypto.randomUUID().slice(0, 8)}`, name: "", type: "text", mutable: false }])} data-testid="attribute-add">+ attribute</button>
    </div>
  );
}

/** Which detector classes this entity type stands for ("Vehicle ← car, bus, truck"); none set: each detection run
 * proposes them from the type's name and description, with a score. Class names come from the running models. */
function DetectorClasses({ classes, onChange }: { classes: string[] | undefined; onChange: (c: string[] | undefined) => void }) {
  const offered = useQuery({ queryKey: ["models", "detection"], queryFn: () => models.list("detection") });
  const known = [...new Set((offered.data ?? []).flatMap((m) => m.classes))].sort();
  const [text, setText] = useState((classes ?? []).join(", "));
  const unknown = (classes ?? []).filter((c) => known.length > 0 && !known.includes(c));
  return (
    <div className="detail-block" data-testid="detector-classes-editor">
      <h4>Detector classes</h4>
      <div className="row tight">
        <input className="options" list="detector-class-names" value={text} placeholder="e.g. car, bus, truck"
          data-testid="detector-classes" aria-label="detector classes"
          onChange={(e) => {
            setText(e.target.value);
            const list = e.target.value.split(",").map((c) => c.trim()).filter((c) => c !== "");
            onChange(e.target.value.trim() === "" ? undefined : list);
          }} />
        <datalist id="detector-class-names">{known.map((c) => <option key={c} value={c} />)}</datalist>
      </div>
      {classes === undefined
        ? <p className="muted">None set: each run proposes classes from the type's name and description, with a score.</p>
        : unknown.length > 0 && <p className="muted" data-testid="detector-classes-unknown">no model knows: {unknown.join(", ")}</p>}
    </div>
  );
}

/** A choice's options as the person types them ("a, b, c"); the list is what lies between the commas. */
function OptionsInput({ options, onChange }: { options: string[]; onChange: (o: string[]) => void }) {
  const [text, setText] = useState(options.join(", "));
  return (
    <input className="options" value={text} placeholder="options, comma separated" data-testid="attribute-options" aria-label="options"
      onChange={(e) => {
        setText(e.target.value);
        onChange(e.target.value.split(",").map((o) => o.trim()).filter((o) => o !== ""));
      }} />
  );
}

function RoleSlots({ slots, ontology, onChange }: { slots: NonNullable<OntologyType["roles"]>; ontology: Ontology; onChange: (s: NonNullable<OntologyType["roles"]>) => void }) {
  const set = (i: number, patch: Partial<(typeof slots)[number]>) => onChange(slots.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  return (
    <div className="detail-block" data-testid="roles-editor">
      <h4>Role slots</h4>
      {slots.length === 0 && <p className="muted">None: an event of this type is a tag on a frame span.</p>}
      {slots.map((s, i) => (
        <div className="row tight" key={i} data-testid="role-slot">
          <select value={s.roleTypeId} onChange={(e) => set(i, { roleTypeId: e.target.value })} data-testid="role-slot-role" aria-label="role type">
            <option value="">role type…</option>
            {!ontology.roleTypes.some((r) => r.id === s.roleTypeId) && s.roleTypeId && <option value={s.roleTypeId}>{s.roleTypeId} (unknown)</option>}
            {ontology.roleTypes.map((r) => <option key={r.id} value={r.id}>{r.name || r.id}</option>)}
          </select>
          <label className="check"><input type="checkbox" checked={!!s.optional} onChange={(e) => set(i, { optional: e.target.checked })} data-testid="role-slot-optional" /> optional</label>
          <label className="check">at most <input type="number" min={1} value={s.maxOccurrences ?? ""} placeholder="any" style={{ width: 64 }} data-testid="role-slot-max"
            onChange={(e) => set(i, { maxOccurrences: e.target.value === "" ? undefined : Number(e.target.value) })} /></label>
          <button className="icon bad" title="Remove role slot" onClick={() => onChange(slots.filter((_, j) => j !== i))} data-testid="role-slot-remove">✕</button>
        </div>
      ))}
      <button onClick={() => onChange([...slots, { roleTypeId: ontology.roleTypes.find((r) => !slots.some((s) => s.roleTypeId === r.id))?.id ?? "" }])}
        data-testid="role-slot-add" disabled={ontology.roleTypes.length === 0} title={ontology.roleTypes.length ? "" : "Add role types first"}>+ role slot</button>
    </div>
  );
}

/** A constraint: any entity, any event, or objects of chosen types; nothing ticked allows anything. */
function Constraint({ title, values, ontology, onChange, testId }: {
  title: string; values: string[]; ontology: Ontology; onChange: (v: string[]) => void; testId: string;
}) {
  const choices = [
    { id: "entity", name: "any entity" }, { id: "event", name: "any event" },
    ...ontology.entityTypes.map((t) => ({ id: t.id, name: t.name || t.id })),
    ...ontology.eventTypes.map((t) => ({ id: t.id, name: `${t.name || t.id} (event)` })),
  ];
  const unknown = values.filter((v) => !choices.some((c) => c.id === v));
  return (
    <div className="detail-block" data-testid={testId}>
      <h4>{title}</h4>
      <div className="checks">
        {[...choices, ...unknown.map((v) => ({ id: v, name: `${v} (unknown)` }))].map((c) => (
          <label key={c.id} className="check">
            <input type="checkbox" checked={values.includes(c.id)} data-testid="constraint-option" data-value={c.id}
              onChange={(e) => onChange(e.target.checked ? [...values, c.id] : values.filter((v) => v !== c.id))} /> {c.name}
          </label>
        ))}
      </div>
      {values.length === 0 && <p className="muted">Nothing ticked: anything may.</p>}
    </div>
  );
}
