import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { SessionProvider } from "../api/session";
import { DataGrid } from "./DataGrid";
import { ErrorNote } from "./ErrorNote";
import { Field } from "./Field";
import { Layout } from "./Layout";
import { ApiError } from "../api/client";

function meResponse(role: string): Response {
  return new Response(
    JSON.stringify({ user: { id: "u1", email: `${role}@example.com`, role, app_ids: null }, csrf_token: "t" }),
    { status: 200, headers: { "Content-Type": "application/json" } },
  );
}

function renderShell(role: string): void {
  vi.stubGlobal("fetch", vi.fn(() => Promise.resolve(meResponse(role))));
  const router = createMemoryRouter([{ path: "/", element: <Layout />, children: [{ index: true, element: <p>home</p> }] }]);
  const wrap = (children: ReactNode): ReactNode => (
    <QueryClientProvider client={new QueryClient()}>
      <SessionProvider>{children}</SessionProvider>
    </QueryClientProvider>
  );
  render(wrap(<RouterProvider router={router} />));
}

beforeEach(() => {
  window.matchMedia ??= ((query: string) => ({
    matches: false,
    media: query,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
  })) as unknown as typeof window.matchMedia;
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("Layout", () => {
  it("hides Settings from a viewer", async () => {
    renderShell("viewer");
    await screen.findByText("viewer@example.com");
    expect(screen.getByRole("link", { name: "SQL" })).toBeTruthy();
    expect(screen.queryByRole("link", { name: "Settings" })).toBeNull();
    expect(screen.getByRole("button", { name: "Log out" })).toBeTruthy();
  });

  it("shows Settings to an admin", async () => {
    renderShell("admin");
    await waitFor(() => expect(screen.getByRole("link", { name: "Settings" })).toBeTruthy());
  });
});

describe("DataGrid", () => {
  it("renders only the rows in view of 10,000", () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => [i, `name ${i}`, null]);
    render(<DataGrid columns={["n", "name", "missing"]} rows={rows} height={320} />);
    const rendered = screen.getAllByRole("row");
    expect(rendered.length).toBeGreaterThan(5);
    expect(rendered.length).toBeLessThan(60);
    expect(screen.getByRole("table").getAttribute("aria-rowcount")).toBe("10001");
    expect(screen.getByText("name 0")).toBeTruthy();
    expect(screen.getAllByText("null").length).toBeGreaterThan(0);
  });
});

describe("ErrorNote and Field", () => {
  it("says the error in words with its field", () => {
    render(<ErrorNote error={new ApiError(422, "invalid_body", "name must not be empty", "name")} title="Could not save" />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("Could not save");
    expect(alert.textContent).toContain("name must not be empty");
    expect(alert.textContent).toContain("name");
  });

  it("labels its control and ties the error to it", () => {
    render(
      <Field label="Email" error="not an address">
        <input />
      </Field>,
    );
    const input = screen.getByLabelText("Email");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    const described = input.getAttribute("aria-describedby") ?? "";
    expect(document.getElementById(described)?.textContent).toBe("not an address");
  });
});
