import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useEffect, useState } from "react";
import { ApiError, ONTOLOGY_CATEGORIES, personas, type Ontology, type OntologyCategory, type OntologyType, type Persona, type Suggestion } from "../api";
import { isFinished, JobProgress, useJob } from "../jobs/useJob";
import { colorFor, errorText } from "../ui/format";
import { TypeDetails } from "./TypeDetails";
import { glossLine, suggestionsOf } from "./suggestions";
import { useMe } from "../auth/session";

const CATEGORY_NAMES: Record<OntologyCategory, string> = {
  entityTypes: "Entity types (boxes)", eventTypes: "Event types", roleTypes: "Role types", relationTypes: "Relation types",
};

export function newId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export function OntologyPage() {
  const list = useQuery({ queryKey: ["personas"], queryFn: personas.list });
  const [selected, setSelected] = useState<string | null>(null);
  const queryClient = useQueryClient();
  const persona = list.data?.find((p) => p.id === selected) ?? list.data?.[0];
  const invalidate = () => queryClient.invalidateQueries({ queryKey: ["personas"] });
  const create = useMutation({
    mutationFn: (name: string) => personas.create({ name, role: "", informationNeed: "", hidden: false }),
    onSuccess: (p) => { setSelected(p.id); void invalidate(); },
  });
  const [newName, setNewName] = useState("");

  return (
    <section className="two-col">
      <div className="col-list">
        <h2>Personas</h2>
        <ul className="plain-list" data-testid="persona-list">
          {list.data?.map((p) => (
            <li key={p.id} className={p.id === persona?.id ? "active" : ""} onClick={() => setSelected(p.id)} data-testid="persona-item" data-persona-id={p.id} data-hidden={p.hidden}>
              {p.name} {p.hidden && <span className="muted">(hidden)</span>}
            </li>
          ))}
        </ul>
        <form onSubmit={(e) => { e.preventDefault(); if (newName.trim()) create.mutate(newName.trim()); setNewName(""); }} className="row">
          <input placeholder="new persona" value={newName} onChange={(e) => setNewName(e.target.value)} data-testid="persona-new-name" />
          <button type="submit" data-testid="persona-create">Add</button>
        </form>
        {create.error && <div className="error-text">{errorText(create.error)}</div>}
      </div>
      <div className="col-main">
        {persona ? <PersonaEditor key={persona.id} persona={persona} onChanged={invalidate} /> : <p className="muted">No persona yet.</p>}
      </div>
    </section>
  );
}

function PersonaEditor({ persona, onChanged }: { persona: Persona; onChanged: () => void }) {
  const me = useMe().data;
  // The backend decides (owner or admin); this only hides buttons that would be refused.
  const mayEdit = !!me && (me.isAdmin || (persona.owner != null && persona.owner === me.username));
  const [draft, setDraft] = useState(persona);
  const [error, setError] = useState<string | null>(null);
  const save = async (next: Persona) => {
    setError(null);
    try {
      await personas.update(persona.id, { name: next.name, role: next.role, informationNeed: next.informationNeed, hidden: next.hidden });
      onChanged();
    } catch (e) { setError(errorText(e)); }
  };
  return (
    <>
      <div className="card">
        <div className="form-grid">
          <label>name <input value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} data-testid="persona-name" /></label>
          <label>role <input value={draft.role} onChange={(e) => setDraft({ ...draft, role: e.target.value })} /></label>
          <label className="wide">information need <textarea value={draft.informationNeed} onChange={(e) => setDraft({ ...draft, informationNeed: e.target.value })} /></label>
        </div>
        <div className="muted" data-testid="persona-owner">{persona.owner ? `owner: ${persona.owner}` : "the team's persona"}</div>
        {mayEdit ? <div className="row">
          <button className="primary" onClick={() => save(draft)} data-testid="persona-save">Save</button>
          <button onClick={() => { const next = { ...draft, hidden: !draft.hidden }; setDraft(next); void save(next); }} data-testid="persona-hide">{draft.hidden ? "Unhide" : "Hide"}</button>
          <button className="danger" onClick={async () => {
            if (!confirm(`Delete persona ${persona.name} and its ontology?`)) return;
            try { await personas.remove(persona.id); onChanged(); } catch (e) { setError(errorText(e)); }
          }} data-testid="persona-delete">Delete</button>
        </div> : <p className="muted" data-testid="persona-read-only">Only its owner and admins edit this persona and its ontology.</p>}
        {error && <div className="error-text">{error}</div>}
      </div>
      <OntologyEditor persona={persona} />
    </>
  );
}

/** The server's refusals of an ontology, by category and type index: each shows under its type's row. */
type Problems = Map<string, string[]>;

function problemsOf(error: unknown): { byType: Problems; summary: string } {
  const byType: Problems = new Map();
  if (!(error instanceof ApiError) || error.status !== 422) return { byType, summary: errorText(error) };
  for (const d of error.detail) {
    const [, category, index] = d.loc ?? [];
    if (typeof category === "string" && typeof index === "number") {
      const key = `${category}/${index}`;
      byType.set(key, [...(byType.get(key) ?? []), String(d.msg)]);
    }
  }
  const count = error.detail.length;
  return { byType, summary: `Not saved: ${count} problem${count === 1 ? "" : "s"}, shown under ${byType.size === 1 ? "its type" : "their types"}` };
}

function OntologyEditor({ persona }: { persona: Persona }) {
  const me = useMe().data;
  const mayEdit = !!me && (me.isAdmin || (persona.owner != null && persona.owner === me.username));
  const queryClient = useQueryClient();
  const query = useQuery({ queryKey: ["ontology", persona.id], queryFn: () => personas.ontology(persona.id) });
  const [draft, setDraft] = useState<Ontology | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [problems, setProblems] = useState<Problems>(new Map());
  const [open, setOpen] = useState<Set<string>>(new Set());
  useEffect(() => { if (query.data) setDraft(query.data); }, [query.data]);
  if (!draft) return <p className="muted">Loading ontology…</p>;

  const saveOntology = async (next: Ontology) => {
    setStatus("saving…");
    try {
      const saved = await personas.saveOntology(persona.id, next);
      queryClient.setQueryData(["ontology", persona.id], saved);
      setProblems(new Map());
      setStatus("saved");
    } catch (e) {
      const found = problemsOf(e);
      setProblems(found.byType);
      setOpen(new Set([...open, ...found.byType.keys()]));
      setStatus(found.summary);
    }
  };
  const update = (cat: OntologyCategory, i: number, patch: Partial<OntologyType>) => {
    const items = draft[cat].slice();
    items[i] = { ...items[i], ...patch };
    setDraft({ ...draft, [cat]: items });
  };
  const toggle = (key: string) => setOpen(open.has(key) ? new Set([...open].filter((k) => k !== key)) : new Set([...open, key]));

  return (
    <>
      {ONTOLOGY_CATEGORIES.map((cat) => (
        <div className="card" key={cat} data-testid={`ontology-${cat}`}>
          <h3>{CATEGORY_NAMES[cat]}</h3>
          <table className="grid-table">
            <tbody>
              {draft[cat].map((t, i) => {
                const key = `${cat}/${i}`;
                const wrong = problems.get(key) ?? [];
                return (
                  <Fragment key={t.id}>
                    <tr data-testid="ontology-type" data-type-id={t.id} className={wrong.length ? "has-problem" : ""}>
                      <td><input type="color" value={t.color?.startsWith("#") ? t.color : colorFor(t.name || t.id)} onChange={(e) => update(cat, i, { color: e.target.value })} /></td>
                      <td><input value={t.name} onChange={(e) => update(cat, i, { name: e.target.value })} placeholder="name" data-testid="type-name" /></td>
                      <td className="wide"><input value={t.description ?? ""} onChange={(e) => update(cat, i, { description: e.target.value })} placeholder="description" /></td>
                      <td className="nowrap"><button className="link" onClick={() => toggle(key)} data-testid="type-details-toggle" aria-expanded={open.has(key)}>
                        {summaryOf(cat, t)} {open.has(key) ? "▴" : "▾"}</button></td>
                      <td><button className="icon bad" title="Delete type" onClick={() => setDraft({ ...draft, [cat]: draft[cat].filter((_, j) => j !== i) })}>✗</button></td>
                    </tr>
                    {(open.has(key) || wrong.length > 0) && (
                      <tr className="details-row"><td />
                        <td colSpan={4}>
                          {wrong.map((m, k) => <div key={k} className="error-text" role="alert" data-testid="type-problem">{m}</div>)}
                          {open.has(key) && <TypeDetails category={cat} type={t} ontology={draft} onChange={(patch) => update(cat, i, patch)} />}
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
          <button onClick={() => setDraft({ ...draft, [cat]: [...draft[cat], { id: newId(cat.replace("Types", "")), name: "", description: "", color: colorFor(String(draft[cat].length) + cat) }] })} data-testid={`add-${cat}`}>+ Add</button>
        </div>
      ))}
      <div className="row save-row">
        {mayEdit && <button className="primary" onClick={() => saveOntology(draft)} data-testid="ontology-save">Save ontology</button>}
        {status && <span className={problems.size ? "error-text" : "muted"} data-testid="ontology-status">{status}</span>}
      </div>
      <Suggestions persona={persona} ontology={draft} onAccept={(next) => { setDraft(next); void saveOntology(next); }} />
    </>
  );
}

/** What a type's details hold, in a few words (the toggle's text). */
function summaryOf(category: OntologyCategory, t: OntologyType): string {
  const n = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
  if (category === "entityTypes") return n(t.attributes?.length ?? 0, "attribute");
  if (category === "eventTypes") return `${n(t.roles?.length ?? 0, "role")}, ${n(t.attributes?.length ?? 0, "attribute")}`;
  if (category === "roleTypes") return t.allowedFillerTypes?.length ? `filled by ${t.allowedFillerTypes.length} kind(s)` : "filled by anything";
  const ends = (t.sourceTypes?.length ?? 0) + (t.targetTypes?.length ?? 0);
  return ends ? "constrained ends" : "any ends";
}

function Suggestions({ persona, ontology, onAccept }: { persona: Persona; ontology: Ontology; onAccept: (o: Ontology) => void }) {
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dismissed, setDismissed] = useState<Set<string>>(new Set());
  const job = useJob(jobId);
  const all = job.data?.status === "completed" ? suggestionsOf(job.data.result) : [];
  const exists = (s: Suggestion) => ontology[s.category].some((t) => t.name.toLowerCase() === s.name.toLowerCase());
  const open = all.filter((s) => !dismissed.has(s.category + s.name) && !exists(s));
  return (
    <div className="card" data-testid="suggestions">
      <h3>Suggest types</h3>
      <p className="muted">Runs the ontology-augmentation job for this persona: types from its name, role and information need, none it already has.</p>
      <button onClick={async () => {
        setError(null);
        try { setJobId((await personas.suggestTypes(persona.id)).jobId); } catch (e) { setError(errorText(e)); }
      }} disabled={!!jobId && !isFinished(job.data)} data-testid="suggest-types">Suggest types</button>
      {error && <div className="error-text">{error}</div>}
      <JobProgress job={job.data} />
      {job.data?.status === "completed" && open.length === 0 && <p className="muted">No new suggestions.</p>}
      <ul className="plain-list">
        {open.map((s) => (
          <li key={s.category + s.name} className="suggestion" data-testid="suggestion" data-category={s.category} data-name={s.name}>
            <b>{s.name}</b> <span className="muted">{CATEGORY_NAMES[s.category]} · <span data-testid="suggestion-confidence" data-confidence={s.confidence}>{Math.round(s.confidence * 100)}%</span></span>
            <div>{s.description}</div>
            {s.evidence && <div data-testid="suggestion-evidence">Seen: {s.evidence}</div>}
            {glossLine(s) && <div className="muted" data-testid="suggestion-gloss"><i>{glossLine(s)}</i></div>}
            <div className="muted" data-testid="suggestion-reason">{s.reason}</div>
            <div className="row">
              <button onClick={() => onAccept({ ...ontology, [s.category]: [...ontology[s.category], { id: newId(s.category.replace("Types", "")), name: s.name, description: s.description, color: colorFor(s.name) }] })} data-testid="suggestion-accept">Accept</button>
              <button onClick={() => setDismissed(new Set([...dismissed, s.category + s.name]))} data-testid="suggestion-dismiss">Dismiss</button>
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}
