import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { review, ROLES, users, videos, type Account, type Role } from "../api";
import { useMe } from "../auth/session";
import { errorText, formatDateTime } from "../ui/format";

/** Admins: every account (create, disable/enable, role, reset password) and everyone's sessions. */
export function AdminPage() {
  const me = useMe();
  const list = useQuery({ queryKey: ["users"], queryFn: users.list });
  const [shown, setShown] = useState<{ username: string; password: string } | null>(null);
  if (!me.data?.isAdmin) return <div className="error-box" data-testid="admin-denied">Only admins manage users.</div>;
  return (
    <section>
      <div className="page-head"><h2>Users</h2></div>
      <NewUser onPassword={setShown} />
      {shown && (
        <div className="card" data-testid="one-time-password">
          One-time password for <b>{shown.username}</b> (shown once; they choose their own at first login):{" "}
          <code data-testid="one-time-password-value">{shown.password}</code>{" "}
          <button onClick={() => setShown(null)}>Done</button>
        </div>
      )}
      {list.error && <div className="error-box">{errorText(list.error)}</div>}
      <table className="grid-table" data-testid="users-table">
        <thead><tr><th>user</th><th>role</th><th>state</th><th>last seen</th><th>sessions</th><th /></tr></thead>
        <tbody>
          {list.data?.map((account) => (
            <UserRow key={account.id} account={account} self={account.id === me.data?.id} onPassword={setShown} />
          ))}
        </tbody>
      </table>
      <Assignments accounts={list.data ?? []} />
      <AllSessions />
    </section>
  );
}

/** Give a video to an annotator; progress per person and per video. */
function Assignments({ accounts }: { accounts: Account[] }) {
  const queryClient = useQueryClient();
  const videoList = useQuery({ queryKey: ["videos"], queryFn: videos.list });
  const progress = useQuery({ queryKey: ["assignments", "progress"], queryFn: review.progress });
  const all = useQuery({ queryKey: ["assignments", "all"], queryFn: () => review.list() });
  const [videoId, setVideoId] = useState("");
  const [assignee, setAssignee] = useState("");
  const assignable = accounts.filter((a) => !a.disabled && a.role !== "viewer");
  const assign = useMutation({
    mutationFn: () => review.assign(videoId, assignee),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["assignments"] }),
  });
  const remove = useMutation({ mutationFn: review.remove, onSuccess: () => queryClient.invalidateQueries({ queryKey: ["assignments"] }) });
  return (
    <>
      <div className="page-head"><h2>Assignments</h2></div>
      <form className="page-head" onSubmit={(e) => { e.preventDefault(); assign.mutate(); }} data-testid="assign-form">
        <select value={videoId} onChange={(e) => setVideoId(e.target.value)} required data-testid="assign-video">
          <option value="">video…</option>
          {videoList.data?.map((v) => <option key={v.id} value={v.id}>{v.filename}</option>)}
        </select>
        <select value={assignee} onChange={(e) => setAssignee(e.target.value)} required data-testid="assign-user">
          <option value="">annotator…</option>
          {assignable.map((a) => <option key={a.id} value={a.username}>{a.username} ({a.role})</option>)}
        </select>
        <button type="submit" disabled={assign.isPending} data-testid="assign-submit">Assign</button>
        {assign.error && <span className="error-text" data-testid="assign-error">{errorText(assign.error)}</span>}
      </form>
      <table className="grid-table" data-testid="assignments-table">
        <thead><tr><th>video</th><th>assignee</th><th>state</th><th>reviewer</th><th>open issues</th><th /></tr></thead>
        <tbody>
          {all.data?.map((a) => (
            <tr key={a.id} data-testid="assignment-row" data-state={a.state}>
              <td>{a.video}</td><td>{a.assignee}</td><td>{a.state.replace("_", " ")}</td><td>{a.reviewer ?? "—"}</td><td>{a.openIssues}</td>
              <td><button onClick={() => { if (window.confirm(`Remove the assignment of ${a.video} to ${a.assignee}?`)) remove.mutate(a.id); }}>Remove</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Progress</h3>
      <table className="grid-table" data-testid="progress-table">
        <thead><tr><th /><th>total</th><th>new</th><th>in progress</th><th>submitted</th><th>in review</th><th>changes requested</th><th>accepted</th></tr></thead>
        <tbody>
          {[...(progress.data?.people ?? []).map((r) => ({ ...r, kind: "person" })), ...(progress.data?.videos ?? []).map((r) => ({ ...r, kind: "video" }))].map((r) => (
            <tr key={`${r.kind}-${r.id}`} data-testid={`progress-${r.kind}`}>
              <td>{r.kind === "person" ? "👤" : "🎞"} {r.name}</td><td>{r.total}</td>
              {(["new", "in_progress", "submitted", "in_review", "changes_requested", "accepted"] as const).map((state) => <td key={state}>{r.states[state] ?? 0}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function AllSessions() {
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: ["all-sessions"], queryFn: users.sessions });
  const end = useMutation({ mutationFn: users.endSession, onSuccess: () => queryClient.invalidateQueries({ queryKey: ["all-sessions"] }) });
  return (
    <>
      <div className="page-head"><h2>Sessions</h2></div>
      <table className="grid-table" data-testid="all-sessions">
        <thead><tr><th>user</th><th>started</th><th>last used</th><th>from</th><th /></tr></thead>
        <tbody>
          {list.data?.map((s) => (
            <tr key={s.id}>
              <td>{s.username}</td><td>{formatDateTime(s.createdAt)}</td><td>{formatDateTime(s.lastUsedAt)}</td><td>{s.client}</td>
              <td>{s.current ? <span className="muted">this one</span> : <button onClick={() => end.mutate(s.id)}>End</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function NewUser({ onPassword }: { onPassword: (shown: { username: string; password: string }) => void }) {
  const queryClient = useQueryClient();
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<Role>("annotator");
  const create = useMutation({
    mutationFn: () => users.create(username.trim(), role, null),
    onSuccess: (made) => {
      if (made.oneTimePassword) onPassword({ username: made.user.username, password: made.oneTimePassword });
      setUsername("");
      void queryClient.invalidateQueries({ queryKey: ["users"] });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  return (
    <form className="page-head" onSubmit={submit} data-testid="user-new">
      <input placeholder="new username" value={username} onChange={(e) => setUsername(e.target.value)} required data-testid="user-new-name" />
      <select value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="user-new-role">
        {ROLES.map((r) => <option key={r}>{r}</option>)}
      </select>
      <button className="primary" type="submit" disabled={create.isPending} data-testid="user-new-submit">Add user</button>
      {create.error && <span className="error-text" data-testid="user-new-error">{errorText(create.error)}</span>}
    </form>
  );
}

function UserRow({ account, self, onPassword }: {
  account: Account; self: boolean; onPassword: (shown: { username: string; password: string }) => void;
}) {
  const queryClient = useQueryClient();
  const done = () => queryClient.invalidateQueries({ queryKey: ["users"] });
  const update = useMutation({ mutationFn: (change: { role?: Role; disabled?: boolean }) => users.update(account.id, change), onSuccess: done });
  const reset = useMutation({
    mutationFn: () => users.resetPassword(account.id),
    onSuccess: (made) => {
      if (made.oneTimePassword) onPassword({ username: made.user.username, password: made.oneTimePassword });
      void done();
    },
  });
  const error = update.error ?? reset.error;
  return (
    <tr data-testid="user-row" data-username={account.username}>
      <td>{account.username}{self ? " (you)" : ""}</td>
      <td>
        <select value={account.role} disabled={update.isPending} onChange={(e) => update.mutate({ role: e.target.value as Role })}
                data-testid="user-role">
          {ROLES.map((r) => <option key={r}>{r}</option>)}
        </select>
      </td>
      <td data-testid="user-state">{account.disabled ? "disabled" : account.mustChangePassword ? "one-time password" : "active"}</td>
      <td>{account.lastSeenAt ? formatDateTime(account.lastSeenAt) : "never"}</td>
      <td>{account.sessions}</td>
      <td>
        {!self && (
          <button onClick={() => update.mutate({ disabled: !account.disabled })} disabled={update.isPending}
                  data-testid="user-toggle-disabled">
            {account.disabled ? "Enable" : "Disable"}
          </button>
        )}{" "}
        <button onClick={() => { if (window.confirm(`Reset ${account.username}'s password? Their sessions end.`)) reset.mutate(); }}
                disabled={reset.isPending} data-testid="user-reset-password">Reset password</button>
        {error && <span className="error-text" data-testid="user-error"> {errorText(error)}</span>}
      </td>
    </tr>
  );
}
