import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { personas, world, type OntologyType, type World, type WorldCategory } from "../api";
import { newId } from "../ontology/OntologyPage";
import { errorText } from "../ui/format";

const SECTIONS: Array<{ key: WorldCategory; title: string; types: "entityTypes" | "eventTypes" | null }> = [
  { key: "entities", title: "Entities", types: "entityTypes" },
  { key: "events", title: "Events", types: "eventTypes" },
  { key: "locations", title: "Locations", types: null },
  { key: "times", title: "Times", types: null },
];

export function WorldPage() {
  const queryClient = useQueryClient();
  const query = useQuery({ queryKey: ["world"], queryFn: world.get });
  const personaList = useQuery({ queryKey: ["personas"], queryFn: personas.list });
  const persona = personaList.data?.find((p) => !p.hidden);
  const ontology = useQuery({ queryKey: ["ontology", persona?.id], queryFn: () => personas.ontology(persona!.id), enabled: !!persona });
  const [draft, setDraft] = useState<World | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  useEffect(() => { if (query.data) setDraft(query.data); }, [query.data]);
  if (query.error) return <div className="error-box">{errorText(query.error)}</div>;
  if (!draft) return <p className="muted">Loading…</p>;

  const update = (key: WorldCategory, i: number, patch: Record<string, string>) => {
    const items = (draft[key] ?? []).slice();
    items[i] = { ...items[i], ...patch };
    setDraft({ ...draft, [key]: items });
  };

  return (
    <section>
      <div className="page-head">
        <h2>World state</h2>
        <button className="primary" data-testid="world-save" onClick={async () => {
          setStatus("saving…");
          try { const saved = await world.save(draft); queryClient.setQueryData(["world"], saved); setStatus("saved"); } catch (e) { setStatus(errorText(e)); }
        }}>Save</button>
        {status && <span className="muted" data-testid="world-status">{status}</span>}
        <span className="muted">types from persona {persona?.name ?? "—"}</span>
      </div>
      {SECTIONS.map(({ key, title, types }) => {
        const typeList: OntologyType[] = types ? (ontology.data?.[types] ?? []) : [];
        return (
          <div className="card" key={key} data-testid={`world-${key}`}>
            <h3>{title}</h3>
            <table className="grid-table">
              <tbody>
                {(draft[key] ?? []).map((item, i) => (
                  <tr key={item.id} data-testid="world-item">
                    <td><input value={item.name} placeholder="name" onChange={(e) => update(key, i, { name: e.target.value })} data-testid="world-item-name" /></td>
                    <td>
                      {types ? (
                        <select value={item.typeId ?? ""} onChange={(e) => update(key, i, { typeId: e.target.value })}>
                          <option value="">(no type)</option>
                          {typeList.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
                        </select>
                      ) : null}
                    </td>
                    <td className="wide"><input value={item.description ?? ""} placeholder="description" onChange={(e) => update(key, i, { description: e.target.value })} /></td>
                    <td><button className="icon bad" onClick={() => setDraft({ ...draft, [key]: draft[key].filter((_, j) => j !== i) })}>✗</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
            <button onClick={() => setDraft({ ...draft, [key]: [...(draft[key] ?? []), { id: newId(key), name: "", typeId: "", description: "" }] })} data-testid={`world-add-${key}`}>+ Add</button>
          </div>
        );
      })}
    </section>
  );
}
