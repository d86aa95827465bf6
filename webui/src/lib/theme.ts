// Light or dark: `data-theme` on <html> drives every CSS variable in styles.css. The choice is
// remembered in localStorage; without one, the system's prefers-color-scheme decides. index.html
// applies the same rule before the first paint; this module keeps it in step afterwards and lets
// charts and editors re-theme when it changes.

import { useSyncExternalStore } from "react";

export type Theme = "light" | "dark";

export const THEME_STORAGE_KEY = "causality.theme";

/** The theme to use: the stored choice if valid, else the system preference. */
export function resolveTheme(stored: string | null | undefined, prefersDark: boolean): Theme {
  if (stored === "light" || stored === "dark") return stored;
  return prefersDark ? "dark" : "light";
}

function readStored(): string | null {
  try {
    return window.localStorage.getItem(THEME_STORAGE_KEY);
  } catch {
    return null; // storage blocked (private mode, a sandboxed frame)
  }
}

function systemPrefersDark(): boolean {
  return typeof window.matchMedia === "function" && window.matchMedia("(prefers-color-scheme: dark)").matches;
}

const listeners = new Set<() => void>();

export function getTheme(): Theme {
  if (typeof document === "undefined") return "light";
  const attr = document.documentElement.getAttribute("data-theme");
  if (attr === "light" || attr === "dark") return attr;
  return resolveTheme(readStored(), systemPrefersDark());
}

/** Apply a theme now and remember it. */
export function setTheme(theme: Theme): void {
  document.documentElement.setAttribute("data-theme", theme);
  try {
    window.localStorage.setItem(THEME_STORAGE_KEY, theme);
  } catch {
    // not remembered, still applied
  }
  for (const listener of listeners) listener();
}

export function toggleTheme(): Theme {
  const next: Theme = getTheme() === "dark" ? "light" : "dark";
  setTheme(next);
  return next;
}

/** Apply the stored or system theme; follow system changes while the user has not chosen. */
export function initTheme(): () => void {
  document.documentElement.setAttribute("data-theme", resolveTheme(readStored(), systemPrefersDark()));
  if (typeof window.matchMedia !== "function") return () => undefined;
  const query = window.matchMedia("(prefers-color-scheme: dark)");
  const onChange = (): void => {
    if (readStored() !== null) return;
    document.documentElement.setAttribute("data-theme", query.matches ? "dark" : "light");
    for (const listener of listeners) listener();
  };
  query.addEventListener("change", onChange);
  return () => query.removeEventListener("change", onChange);
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The current theme, re-rendering when it changes. */
export function useTheme(): Theme {
  return useSyncExternalStore(subscribe, getTheme, () => "light");
}
