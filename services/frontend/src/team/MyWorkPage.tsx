import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { annotations, review, type Assignment, type AssignmentState } from "../api";
import { abilities } from "../auth/roles";
import { useMe } from "../auth/session";
import { errorText, formatDateTime } from "../ui/format";

const STATE_LABEL: Record<AssignmentState, string> = {
  new: "new", in_progress: "in progress", submitted: "submitted", in_review: "in review", accepted: "accepted",
  changes_requested: "changes requested",
};

/** "My work": what is assigned to me with its state and review issues; for reviewers, what waits for review. */
export function MyWorkPage() {
  const can = abilities(useMe().data);
  const mine = useQuery({ queryKey: ["assignments", "mine"], queryFn: () => review.list({ mine: true }) });
  const toReview = useQuery({
    queryKey: ["assignments", "review"],
    queryFn: () => review.list({ states: ["submitted", "in_review", "changes_requested", "accepted"] }),
    enabled: can.review,
  });
  const me = useMe().data;
  return (
    <section>
      <div className="page-head"><h2>My work</h2></div>
      {mine.error && <div className="error-box">{errorText(mine.error)}</div>}
      {mine.data?.length === 0 && <p className="muted" data-testid="mywork-empty">Nothing is assigned to you.</p>}
      <div data-testid="mywork-list">
        {mine.data?.map((a) => <AssignmentCard key={a.id} assignment={a} as="assignee" />)}
      </div>
      {can.review && (
        <>
          <div className="page-head"><h2>To review</h2></div>
          {toReview.data?.filter((a) => a.assigneeId !== me?.id).length === 0 && <p className="muted">Nothing waits for review.</p>}
          <div data-testid="review-list">
            {toReview.data?.filter((a) => a.assigneeId !== me?.id).map((a) => <AssignmentCard key={a.id} assignment={a} as="reviewer" />)}
          </div>
        </>
      )}
    </section>
  );
}

function AssignmentCard({ assignment, as }: { assignment: Assignment; as: "assignee" | "reviewer" }) {
  const queryClient = useQueryClient();
  const done = () => queryClient.invalidateQueries({ queryKey: ["assignments"] });
  const move = useMutation({ mutationFn: (state: AssignmentState) => review.move(assignment.id, state), onSuccess: done });
  const a = assignment;
  const range = a.firstFrame === null ? "whole video" : `frames ${a.firstFrame}–${a.lastFrame}`;
  const button = (state: AssignmentState, label: string) => (
    <button onClick={() => move.mutate(state)} disabled={move.isPending} data-testid={`move-${state}`}>{label}</button>
  );
  return (
    <div className="card" data-testid="assignment" data-state={a.state} data-video={a.video}>
      <div className="page-head">
        <Link to={`/videos/${a.videoId}`} data-testid="assignment-open"><b>{a.video}</b></Link>
        <span className="muted">{range}</span>
        {as === "reviewer" && <span>by {a.assignee}</span>}
        <span data-testid="assignment-state">{STATE_LABEL[a.state]}</span>
        {a.reviewer && <span className="muted">reviewer {a.reviewer}</span>}
        <span className="muted" data-testid="assignment-open-issues">{a.openIssues} open issue(s)</span>
        {as === "assignee" && a.state === "new" && button("in_progress", "Start")}
        {as === "assignee" && ["new", "in_progress", "changes_requested"].includes(a.state) && button("submitted", "Submit")}
        {as === "reviewer" && a.state === "submitted" && button("in_review", "Start review")}
        {as === "reviewer" && a.state === "in_review" && button("accepted", "Accept")}
        {as === "reviewer" && a.state === "in_review" && button("changes_requested", "Request changes")}
        {as === "reviewer" && a.state === "accepted" && button("in_progress", "Reopen")}
        {move.error && <span className="error-text" data-testid="assignment-error">{errorText(move.error)}</span>}
      </div>
      {(a.issues > 0 || (as === "reviewer" && a.state === "in_review")) && <Issues assignment={a} as={as} />}
    </div>
  );
}

function Issues({ assignment, as }: { assignment: Assignment; as: "assignee" | "reviewer" }) {
  const queryClient = useQueryClient();
  const issues = useQuery({ queryKey: ["issues", assignment.id], queryFn: () => review.issues(assignment.id) });
  const done = () => {
    void queryClient.invalidateQueries({ queryKey: ["issues", assignment.id] });
    void queryClient.invalidateQueries({ queryKey: ["assignments"] });
  };
  const resolve = useMutation({ mutationFn: review.resolve, onSuccess: done });
  return (
    <div>
      <table className="grid-table" data-testid="issues">
        <thead><tr><th>frame</th><th>track</th><th>issue</th><th>by</th><th>state</th><th /></tr></thead>
        <tbody>
          {issues.data?.map((issue) => (
            <tr key={issue.id} data-testid="issue" data-resolved={issue.resolvedAt ? "yes" : "no"}>
              <td><Link to={`/videos/${assignment.videoId}?frame=${issue.frame}`} data-testid="issue-goto">{issue.frame}</Link></td>
              <td><code>{issue.trackId?.slice(0, 8) ?? "—"}</code></td>
              <td data-testid="issue-message">{issue.message}</td>
              <td>{issue.author}</td>
              <td>{issue.resolvedAt ? `resolved by ${issue.resolvedBy} ${formatDateTime(issue.resolvedAt)}` : "open"}</td>
              <td>{!issue.resolvedAt && (
                <button onClick={() => resolve.mutate(issue.id)} data-testid="issue-resolve">{as === "assignee" ? "Fixed" : "Withdraw"}</button>
              )}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {resolve.error && <span className="error-text">{errorText(resolve.error)}</span>}
      {as === "reviewer" && assignment.state === "in_review" && <NewIssue assignment={assignment} onAdded={done} />}
    </div>
  );
}

function NewIssue({ assignment, onAdded }: { assignment: Assignment; onAdded: () => void }) {
  const tracks = useQuery({ queryKey: ["annotations", assignment.videoId], queryFn: () => annotations.list(assignment.videoId) });
  const [frame, setFrame] = useState(String(assignment.firstFrame ?? 0));
  const [trackId, setTrackId] = useState("");
  const [message, setMessage] = useState("");
  const add = useMutation({
    mutationFn: () => review.addIssue(assignment.id, Number(frame), trackId || null, message.trim()),
    onSuccess: () => { setMessage(""); onAdded(); },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    add.mutate();
  }
  return (
    <form className="page-head" onSubmit={submit} data-testid="issue-new">
      <label>Frame <input type="number" min={0} value={frame} onChange={(e) => setFrame(e.target.value)} data-testid="issue-frame" style={{ width: 80 }} /></label>
      <select value={trackId} onChange={(e) => setTrackId(e.target.value)} data-testid="issue-track">
        <option value="">no track</option>
        {tracks.data?.annotations.map((t) => <option key={t.id} value={t.id}>{t.label} ({t.id.slice(0, 8)})</option>)}
      </select>
      <input placeholder="what needs changing" value={message} onChange={(e) => setMessage(e.target.value)} required data-testid="issue-text" />
      <button type="submit" disabled={add.isPending} data-testid="issue-add">Add issue</button>
      {add.error && <span className="error-text" data-testid="issue-error">{errorText(add.error)}</span>}
    </form>
  );
}
