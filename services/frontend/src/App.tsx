import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createBrowserRouter, Navigate, RouterProvider } from "react-router-dom";
import { ApiError, setUnauthorizedHandler } from "./api";
import { LoginPage } from "./auth/LoginPage";
import { RequireSession } from "./auth/RequireSession";
import { Layout } from "./ui/Layout";
import { VideosPage } from "./videos/VideosPage";
import { WorkspacePage } from "./annotate/WorkspacePage";
import { OntologyPage } from "./ontology/OntologyPage";
import { WorldPage } from "./world/WorldPage";
import { JobsPage } from "./jobs/JobsPage";
import { TransferPage } from "./transfer/TransferPage";
import { MetricsPage } from "./metrics/MetricsPage";

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
          { path: "/ontology", element: <OntologyPage /> },
          { path: "/world", element: <WorldPage /> },
          { path: "/jobs", element: <JobsPage /> },
          { path: "/transfer", element: <TransferPage /> },
          { path: "/metrics", element: <MetricsPage /> },
        ],
      },
      { path: "/videos/:videoId", element: <WorkspacePage /> },
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
