// Log in with email and password; back to the page that asked (?next=), never off the app.

import { useState, type FormEvent, type ReactNode } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";

import { ApiError } from "../api/client";
import { useSession } from "../api/session";
import { ErrorNote } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { ThemeToggle } from "../components/Layout";
import { Loading } from "../components/Loading";
import { safeNext } from "../lib/format";

export default function LoginPage(): ReactNode {
  const { user, loading, login } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const next = safeNext(params.get("next"));

  if (loading) return <Loading label="Checking your session…" />;
  if (user !== null && !busy) return <Navigate to={next} replace />;

  const fieldError = (name: string): string | null =>
    error instanceof ApiError && error.field === name ? error.message : null;

  async function onSubmit(event: FormEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    if (email.trim() === "" || password === "") {
      setError(new Error("Enter your email and password."));
      return;
    }
    setError(null);
    setBusy(true);
    try {
      await login(email.trim(), password);
      navigate(next, { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const message =
    error instanceof ApiError && error.code === "invalid_credentials"
      ? "That email and password do not match an account. Check them and try again."
      : null;

  return (
    <main className="login-page">
      <div className="card login-card">
        <div className="login-theme">
          <ThemeToggle />
        </div>
        <h1>Log in</h1>
        <p className="muted">Causality analytics</p>
        <form onSubmit={(e) => void onSubmit(e)} noValidate>
          <Field label="Email" error={fieldError("email")}>
            <input
              type="email"
              name="email"
              autoComplete="username"
              required
              autoFocus
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </Field>
          <Field label="Password" error={fieldError("password")}>
            <input
              type="password"
              name="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </Field>
          {message !== null ? (
            <div className="error-note" role="alert">
              {message}
            </div>
          ) : (
            error instanceof ApiError && error.field !== undefined ? null : <ErrorNote error={error} title="Could not log in" />
          )}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Logging in…" : "Log in"}
          </button>
        </form>
      </div>
    </main>
  );
}
