import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense, type ReactNode } from "react";
import { createBrowserRouter, Navigate, RouterProvider } from "react-router-dom";
import { ApiError, setUnauthorizedHandler } from "./api";
import { LoginPage } from "./auth/LoginPage";
import { RequireSession } from "./auth/RequireSession";
import { Layout } from "./ui/Layout";
import { VideosPage } from "./videos/VideosPage";
import { JobsPage } from "./jobs/JobsPage";

// The login and video list load first; the rest come as their own chunks when opened (the workspace, the
// ontology and world editors, export/import, and the Metrics page with its charting library).
const WorkspacePage = lazy(() => import("./annotate/WorkspacePage").then((m) => ({ default: m.WorkspacePage })));
const OntologyPage = lazy(() => import("./ontology/OntologyPage").then((m) => ({ default: m.OntologyPage })));
const WorldPage = lazy(() => import("./world/WorldPage").then((m) => ({ default: m.WorldPage })));
const TransferPage = lazy(() => import("./transfer/TransferPage").then((m) => ({ default: m.TransferPage })));
const AdminPage = lazy(() => import("./team/AdminPage").then((m) => ({ default: m.AdminPage })));
const MyWorkPage = lazy(() => import("./team/MyWorkPage").then((m) => ({ default: m.MyWorkPage })));
const AccountPage = lazy(() => import("./team/AccountPage").then((m) => ({ default: m.AccountPage })));
const MetricsPage = lazy(() => import("./metrics/MetricsPage").then((m) => ({ default: m.MetricsPage })));

function Loading({ children }: { children: ReactNode }) {
  return <Suspense fallback={<div className="page-loading">Loading…</div>}>{children}</Suspense>;
}

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      refetchOnWindowFocus: false,
      // A 4xx will not get better by asking again.
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
    },
  },
});

const router = createBrowserRouter([
  { path: "/login", element: <LoginPage /> },
  {
    element: <RequireSession />,
    children: [
      {
        element: <Layout />,
        children: [
          { path: "/", element: <VideosPage /> },
          { path: "/ontology", element: <Loading><OntologyPage /></Loading> },
          { path: "/world", element: <Loading><WorldPage /></Loading> },
          { path: "/jobs", element: <JobsPage /> },
          { path: "/transfer", element: <Loading><TransferPage /></Loading> },
          { path: "/metrics", element: <Loading><MetricsPage /></Loading> },
          { path: "/admin", element: <Loading><AdminPage /></Loading> },
          { path: "/account", element: <Loading><AccountPage /></Loading> },
          { path: "/work", element: <Loading><MyWorkPage /></Loading> },
        ],
      },
      { path: "/videos/:videoId", element: <Loading><WorkspacePage /></Loading> },
    ],
  },
  { path: "*", element: <Navigate to="/" replace /> },
]);

/** Where the user is now, to come back to after logging in. */
export function currentLocation(): string {
  return window.location.pathname + window.location.search;
}

// A 401 anywhere: the session is gone; forget cached data and go to login, keeping the location.
setUnauthorizedHandler(() => {
  if (window.location.pathname === "/login") return;
  queryClient.setQueryData(["me"], null);
  void router.navigate(`/login?next=${encodeURIComponent(currentLocation())}`, { replace: true });
});

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  );
}
