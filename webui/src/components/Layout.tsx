// The frame around every signed-in page: the nav (links by role), the theme switch, Log out.
// At phone widths the nav folds behind a "Menu" button; it closes again after navigating.

import { useEffect, useState, type ReactNode } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";

import { useSession, type Role } from "../api/session";
import { toggleTheme, useTheme } from "../lib/theme";

interface NavItem {
  to: string;
  label: string;
  /** The lowest role that sees the link. */
  role: Role;
  group?: string;
  end?: boolean;
}

export const NAV_ITEMS: readonly NavItem[] = [
  { to: "/", label: "Dashboards", role: "viewer", end: true },
  { to: "/insights/trends", label: "Trends", role: "viewer", group: "Insights" },
  { to: "/insights/funnels", label: "Funnels", role: "viewer", group: "Insights" },
  { to: "/insights/retention", label: "Retention", role: "viewer", group: "Insights" },
  { to: "/insights/paths", label: "Paths", role: "viewer", group: "Insights" },
  { to: "/sql", label: "SQL", role: "viewer", group: "Explore" },
  { to: "/ask", label: "Ask", role: "viewer", group: "Explore" },
  { to: "/live", label: "Live events", role: "viewer", group: "Explore" },
  { to: "/reactions", label: "Reactions", role: "viewer", group: "Act" },
  { to: "/settings", label: "Settings", role: "admin", group: "Admin" },
];

export function ThemeToggle(): ReactNode {
  const theme = useTheme();
  const next = theme === "dark" ? "light" : "dark";
  return (
    <button type="button" onClick={() => toggleTheme()} title={`Switch to the ${next} theme`}>
      <span aria-hidden="true">{theme === "dark" ? "☀" : "☾"}</span>
      {theme === "dark" ? "Light theme" : "Dark theme"}
    </button>
  );
}

export function Layout(): ReactNode {
  const { user, can, logout } = useSession();
  const [open, setOpen] = useState(false);
  const location = useLocation();
  const navigate = useNavigate();

  useEffect(() => setOpen(false), [location.pathname]);

  const items = NAV_ITEMS.filter((item) => can(item.role));
  let lastGroup: string | undefined;

  return (
    <div className="app-shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <div className="topbar">
        <NavLink to="/" className="brand" end>
          Causality
        </NavLink>
        <button type="button" aria-expanded={open} aria-controls="app-nav" onClick={() => setOpen((o) => !o)}>
          {open ? "Close menu" : "Menu"}
        </button>
      </div>
      <nav id="app-nav" className={`app-nav${open ? " open" : ""}`} aria-label="Main">
        <NavLink to="/" className="brand" end>
          Causality
        </NavLink>
        <ul className="nav-links">
          {items.map((item) => {
            const header = item.group !== undefined && item.group !== lastGroup ? item.group : undefined;
            lastGroup = item.group;
            return (
              <li key={item.to}>
                {header !== undefined && (
                  <div className="nav-group" aria-hidden="true">
                    {header}
                  </div>
                )}
                <NavLink to={item.to} end={item.end ?? false}>
                  {item.label}
                </NavLink>
              </li>
            );
          })}
        </ul>
        <div className="nav-footer">
          {user !== null && (
            <div className="nav-user">
              {user.email} <span className="badge">{user.role}</span>
            </div>
          )}
          <ThemeToggle />
          <button
            type="button"
            onClick={() => {
              void logout().finally(() => navigate("/login", { replace: true }));
            }}
          >
            Log out
          </button>
        </div>
      </nav>
      <main id="main" className="app-main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}

export default Layout;
