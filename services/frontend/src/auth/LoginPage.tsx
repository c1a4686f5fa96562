import { useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useNavigate, useSearchParams } from "react-router-dom";
import { auth } from "../api";
import { safeNext } from "./session";

export function LoginPage() {
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const user = await auth.login(username, password);
      queryClient.clear();
      queryClient.setQueryData(["me"], user);
      navigate(safeNext(params.get("next")), { replace: true });
    } catch (e) {
      setError(e instanceof Error && "status" in e && (e as { status: number }).status === 401 ? "Wrong username or password." : String(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="login-page">
      <form className="login-card" onSubmit={submit} data-testid="login-form">
        <h1>FOVEA</h1>
        <p className="muted">Video annotation</p>
        <label>
          Username
          <input data-testid="login-username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" required />
        </label>
        <label>
          Password
          <input data-testid="login-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required autoFocus />
        </label>
        {error && <div className="error-box" role="alert" data-testid="login-error">{error}</div>}
        <button className="primary" type="submit" disabled={busy} data-testid="login-submit">
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
