import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { auth, ROLES, type Role } from "../api";
import { roleIncludes } from "../auth/roles";
import { useMe } from "../auth/session";
import { errorText, formatDateTime } from "../ui/format";

/** The signed-in user's own account: password, sessions, API tokens. */
export function AccountPage() {
  const me = useMe();
  return (
    <section>
      <div className="page-head">
        <h2>Account</h2>
        <span className="muted" data-testid="account-role">{me.data?.username}: {me.data?.role}</span>
      </div>
      <PasswordForm />
      <Sessions />
      <Tokens role={me.data?.role ?? "viewer"} />
    </section>
  );
}

export function PasswordForm() {
  const me = useMe();
  const queryClient = useQueryClient();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const change = useMutation({
    mutationFn: () => auth.changePassword(current, next),
    onSuccess: () => {
      setCurrent("");
      setNext("");
      void queryClient.invalidateQueries({ queryKey: ["me"] });
      void queryClient.invalidateQueries({ queryKey: ["my-sessions"] });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    change.mutate();
  }
  return (
    <form className="card" onSubmit={submit} data-testid="password-form">
      <h3>Password</h3>
      {me.data?.mustChangePassword && <p className="error-text" data-testid="must-change-password">An admin set this password: choose your own.</p>}
      <label>Current <input type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required data-testid="password-current" /></label>{" "}
      <label>New <input type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required data-testid="password-new" /></label>{" "}
      <button type="submit" disabled={change.isPending} data-testid="password-submit">Change</button>
      {change.data && <span className="muted" data-testid="password-changed"> Changed; {change.data.endedSessions} other session(s) ended.</span>}
      {change.error && <span className="error-text" data-testid="password-error"> {errorText(change.error)}</span>}
    </form>
  );
}

function Sessions() {
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: ["my-sessions"], queryFn: auth.sessions });
  const end = useMutation({ mutationFn: auth.endSession, onSuccess: () => queryClient.invalidateQueries({ queryKey: ["my-sessions"] }) });
  return (
    <div className="card">
      <h3>Sessions</h3>
      <table className="grid-table" data-testid="sessions-table">
        <thead><tr><th>started</th><th>last used</th><th>from</th><th>browser</th><th /></tr></thead>
        <tbody>
          {list.data?.map((s) => (
            <tr key={s.id} data-testid="session-row">
              <td>{formatDateTime(s.createdAt)}</td><td>{formatDateTime(s.lastUsedAt)}</td><td>{s.client}</td>
              <td title={s.userAgent}>{s.userAgent.slice(0, 40)}</td>
              <td>{s.current ? <span className="muted">this one</span> : <button onClick={() => end.mutate(s.id)} data-testid="session-end">End</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Tokens({ role }: { role: Role }) {
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: ["my-tokens"], queryFn: auth.tokens });
  const [name, setName] = useState("");
  const [tokenRole, setTokenRole] = useState<Role>(role);
  const done = () => queryClient.invalidateQueries({ queryKey: ["my-tokens"] });
  const create = useMutation({ mutationFn: () => auth.createToken(name.trim(), tokenRole, null), onSuccess: () => { setName(""); void done(); } });
  const revoke = useMutation({ mutationFn: auth.revokeToken, onSuccess: done });
  return (
    <div className="card">
      <h3>API tokens</h3>
      <p className="muted">For scripts: <code>Authorization: Bearer &lt;token&gt;</code>. A token is shown once; only its hash is kept.</p>
      <form className="page-head" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <input placeholder="token name" value={name} onChange={(e) => setName(e.target.value)} required data-testid="token-name" />
        <select value={tokenRole} onChange={(e) => setTokenRole(e.target.value as Role)} data-testid="token-role">
          {ROLES.filter((r) => roleIncludes(role, r)).map((r) => <option key={r}>{r}</option>)}
        </select>
        <button type="submit" disabled={create.isPending} data-testid="token-create">Create token</button>
        {create.error && <span className="error-text">{errorText(create.error)}</span>}
      </form>
      {create.data && <div className="card" data-testid="token-secret">New token (copy it now): <code>{create.data.token}</code></div>}
      <table className="grid-table" data-testid="tokens-table">
        <thead><tr><th>name</th><th>role</th><th>starts</th><th>created</th><th>last used</th><th /></tr></thead>
        <tbody>
          {list.data?.map((t) => (
            <tr key={t.id} data-testid="token-row">
              <td>{t.name}</td><td>{t.role}</td><td><code>{t.prefix}…</code></td><td>{formatDateTime(t.createdAt)}</td>
              <td>{t.lastUsedAt ? formatDateTime(t.lastUsedAt) : "never"}</td>
              <td><button onClick={() => revoke.mutate(t.id)} data-testid="token-revoke">Revoke</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
