import { useQueryClient } from "@tanstack/react-query";
import { NavLink, Outlet, useNavigate } from "react-router-dom";
import { auth } from "../api";
import { abilities } from "../auth/roles";
import { useMe } from "../auth/session";

export function Layout() {
  return (
    <div className="app">
      <TopBar />
      <main className="page">
        <Outlet />
      </main>
    </div>
  );
}

export function TopBar({ children }: { children?: React.ReactNode }) {
  const me = useMe();
  const can = abilities(me.data);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  async function logout() {
    try {
      await auth.logout();
    } finally {
      queryClient.clear();
      queryClient.setQueryData(["me"], null);
      navigate("/login", { replace: true });
    }
  }
  return (
    <header className="topbar">
      <NavLink to="/" className="brand">FOVEA</NavLink>
      <nav>
        <NavLink to="/" end data-testid="nav-videos">Videos</NavLink>
        <NavLink to="/work" data-testid="nav-work">My work</NavLink>
        <NavLink to="/ontology" data-testid="nav-ontology">Ontology</NavLink>
        <NavLink to="/world" data-testid="nav-world">World</NavLink>
        <NavLink to="/jobs" data-testid="nav-jobs">Jobs</NavLink>
        <NavLink to="/transfer" data-testid="nav-transfer">Export / import</NavLink>
        <NavLink to="/metrics" data-testid="nav-metrics">Metrics</NavLink>
        {can.admin && <NavLink to="/admin" data-testid="nav-admin">Users</NavLink>}
      </nav>
      <div className="topbar-middle">{children}</div>
      <NavLink to="/account" className="whoami" data-testid="whoami" title="your account">
        {me.data?.username}{me.data ? ` (${me.data.role})` : ""}{me.data?.mustChangePassword ? " ⚠ change password" : ""}
      </NavLink>
      <button onClick={logout} data-testid="logout">Log out</button>
    </header>
  );
}
