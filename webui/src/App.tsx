// The router: every page is its own lazily loaded chunk, so the first load carries only the
// shell and the page asked for. Everything but /login needs a session.

import { lazy, Suspense, type ComponentType, type LazyExoticComponent, type ReactNode } from "react";
import {
  createBrowserRouter,
  isRouteErrorResponse,
  Navigate,
  RouterProvider,
  useLocation,
  useRouteError,
  type RouteObject,
} from "react-router";

import { useSession } from "./api/session";
import { EmptyState } from "./components/EmptyState";
import { Layout } from "./components/Layout";
import { Loading } from "./components/Loading";
import { PageHeader } from "./components/PageHeader";

const LoginPage = lazy(() => import("./pages/LoginPage"));
const DashboardsPage = lazy(() => import("./pages/DashboardsPage"));
const DashboardPage = lazy(() => import("./pages/DashboardPage"));
const TrendsPage = lazy(() => import("./pages/TrendsPage"));
const FunnelsPage = lazy(() => import("./pages/FunnelsPage"));
const RetentionPage = lazy(() => import("./pages/RetentionPage"));
const PathsPage = lazy(() => import("./pages/PathsPage"));
const SqlPage = lazy(() => import("./pages/SqlPage"));
const AskPage = lazy(() => import("./pages/AskPage"));
const LivePage = lazy(() => import("./pages/LivePage"));
const ReactionsPage = lazy(() => import("./pages/ReactionsPage"));
const SettingsPage = lazy(() => import("./pages/SettingsPage"));

function page(Component: LazyExoticComponent<ComponentType>): ReactNode {
  return (
    <Suspense fallback={<Loading />}>
      <Component />
    </Suspense>
  );
}

/** Pages behind the login: no session → /login?next=<here>. */
function RequireSession({ children }: { children: ReactNode }): ReactNode {
  const { user, loading } = useSession();
  const location = useLocation();
  if (loading) return <Loading label="Checking your session…" />;
  if (user === null) {
    const next = location.pathname + location.search;
    return <Navigate to={next === "/" ? "/login" : `/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return children;
}

function NotFoundPage(): ReactNode {
  return (
    <>
      <PageHeader title="Not found" />
      <EmptyState title="There is no page here">
        <p>
          Pick a page from the menu, or go to <a href="/app/">the dashboards</a>.
        </p>
      </EmptyState>
    </>
  );
}

/** A page that failed to load (a deploy replaced its chunk) or threw while rendering. */
function RouteError(): ReactNode {
  const error = useRouteError();
  const message = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : error instanceof Error
      ? error.message
      : "unknown error";
  return (
    <div className="app-main">
      <h1>Something went wrong</h1>
      <div className="error-note" role="alert">
        This page could not be shown: {message}
      </div>
      <p>
        <button type="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </p>
    </div>
  );
}

export const routes: RouteObject[] = [
  { path: "/login", element: page(LoginPage), errorElement: <RouteError /> },
  {
    path: "/",
    element: (
      <RequireSession>
        <Layout />
      </RequireSession>
    ),
    errorElement: <RouteError />,
    children: [
      {
        errorElement: <RouteError />,
        children: [
          { index: true, element: page(DashboardsPage) },
          { path: "dashboards", element: <Navigate to="/" replace /> },
          { path: "dashboards/:id", element: page(DashboardPage) },
          { path: "insights", element: <Navigate to="/insights/trends" replace /> },
          { path: "insights/trends", element: page(TrendsPage) },
          { path: "insights/funnels", element: page(FunnelsPage) },
          { path: "insights/retention", element: page(RetentionPage) },
          { path: "insights/paths", element: page(PathsPage) },
          { path: "sql", element: page(SqlPage) },
          { path: "ask", element: page(AskPage) },
          { path: "live", element: page(LivePage) },
          { path: "reactions", element: page(ReactionsPage) },
          { path: "settings", element: page(SettingsPage) },
          { path: "*", element: <NotFoundPage /> },
        ],
      },
    ],
  },
];

const router = createBrowserRouter(routes, { basename: "/app" });

export function App(): ReactNode {
  return <RouterProvider router={router} />;
}
