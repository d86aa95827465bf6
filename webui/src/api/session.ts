// Who is logged in: asked of /api/v1/auth/me once at start, replaced by login and logout.
// The CSRF token lives in memory only (csrf.ts); the session itself is an HttpOnly cookie that
// scripts never see. A 401 anywhere clears the user, and the route guard sends them to log in.

import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from "react";

import { ApiError, api } from "./client";
import { getCsrfToken, setCsrfToken, setUnauthorizedHandler } from "./csrf";

export { getCsrfToken, setCsrfToken } from "./csrf";

export type Role = "viewer" | "editor" | "admin";

export interface SessionUser {
  id: string;
  email: string;
  role: Role;
  /** The apps this user may see; null: all of them. */
  app_ids: string[] | null;
}

interface MeResponse {
  user: SessionUser;
  csrf_token: string;
}

export interface SessionValue {
  user: SessionUser | null;
  csrf: string | null;
  /** True until the first /auth/me has answered. */
  loading: boolean;
  login(email: string, password: string): Promise<SessionUser>;
  logout(): Promise<void>;
  /** Whether the user's role is at least `role` (viewer < editor < admin). */
  can(role: Role): boolean;
  refresh(): Promise<void>;
}

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

/** Role order as the gateway applies it: a higher role can do everything a lower one can. */
export function roleAtLeast(role: Role | undefined | null, needed: Role): boolean {
  if (role === undefined || role === null) return false;
  return RANK[role] >= RANK[needed];
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }): ReactNode {
  const [user, setUser] = useState<SessionUser | null>(null);
  const [csrf, setCsrf] = useState<string | null>(getCsrfToken());
  const [loading, setLoading] = useState(true);

  const apply = useCallback((me: MeResponse | null) => {
    setCsrfToken(me?.csrf_token ?? null);
    setCsrf(me?.csrf_token ?? null);
    setUser(me?.user ?? null);
  }, []);

  const refresh = useCallback(async () => {
    try {
      apply(await api<MeResponse>("/api/v1/auth/me"));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) apply(null);
      else throw error;
    } finally {
      setLoading(false);
    }
  }, [apply]);

  useEffect(() => {
    refresh().catch(() => {
      // the gateway is down: treat as logged out; the login page shows the error on submit
      apply(null);
    });
  }, [refresh, apply]);

  useEffect(() => {
    setUnauthorizedHandler(() => apply(null));
    return () => setUnauthorizedHandler(null);
  }, [apply]);

  const login = useCallback(
    async (email: string, password: string) => {
      const me = await api<MeResponse>("/api/v1/auth/login", {
        method: "POST",
        body: { email, password },
      });
      apply(me);
      return me.user;
    },
    [apply],
  );

  const logout = useCallback(async () => {
    try {
      await api<unknown>("/api/v1/auth/logout", { method: "POST" });
    } catch (error) {
      // already logged out on the server: the local state is what matters
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    } finally {
      apply(null);
    }
  }, [apply]);

  const value = useMemo<SessionValue>(
    () => ({
      user,
      csrf,
      loading,
      login,
      logout,
      refresh,
      can: (role: Role) => roleAtLeast(user?.role, role),
    }),
    [user, csrf, loading, login, logout, refresh],
  );
  return createElement(SessionContext.Provider, { value }, children);
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (value === null) throw new Error("useSession() outside <SessionProvider>");
  return value;
}
