import { Navigate, Outlet, useLocation } from "react-router-dom";
import { useMe } from "./session";

export function RequireSession() {
  const me = useMe();
  const location = useLocation();
  if (me.isPending) return <div className="page-loading">Loading…</div>;
  if (me.isError) return <div className="error-box">Cannot reach the backend: {String(me.error)}</div>;
  if (!me.data) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <Outlet />;
}
