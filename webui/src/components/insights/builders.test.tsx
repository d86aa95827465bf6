// The funnel builder and the dashboards list in jsdom against a fake gateway (fetch): the form
// turns into the exact request body, the answer into the table the browser test reads, form
// problems and API errors into words. The chart itself is drawn by ECharts only in a real
// browser (jsdom has no canvas), so Chart is replaced by a labelled box here.

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { SessionProvider } from "../../api/session";
import DashboardsPage from "../../pages/DashboardsPage";
import FunnelsPage from "../../pages/FunnelsPage";
import type { FunnelResult } from "../../lib/insights/types";

vi.mock("../Chart", () => ({
  Chart: ({ ariaLabel }: { ariaLabel: string }) => <div role="img" aria-label={ariaLabel} />,
}));

type Handler = (url: string, init: RequestInit | undefined) => Response | undefined;

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

const calls: { url: string; method: string; body: unknown }[] = [];

function gateway(role: string, handler: Handler): void {
  calls.length = 0;
  vi.stubGlobal(
    "fetch",
    vi.fn((input: string, init?: RequestInit) => {
      const url = String(input);
      const method = init?.method ?? "GET";
      calls.push({ url, method, body: init?.body ? JSON.parse(String(init.body)) : undefined });
      if (url === "/api/v1/auth/me") {
        return Promise.resolve(
          json({ user: { id: "u1", email: "a@example.com", role, app_ids: null }, csrf_token: "t" }),
        );
      }
      const answer = handler(url, init);
      return Promise.resolve(answer ?? json({ error: { code: "not_found", message: "no" } }, 404));
    }),
  );
}

function show(path: string, element: ReactNode): ReturnType<typeof createMemoryRouter> {
  const router = createMemoryRouter(
    [
      { path: "/insights/funnels", element },
      { path: "/", element },
      { path: "/dashboards/:id", element: <p>dashboard page</p> },
    ],
    { initialEntries: [path] },
  );
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <SessionProvider>
        <RouterProvider router={router} />
      </SessionProvider>
    </QueryClientProvider>,
  );
  return router;
}

function step(order: number, name: string, count: number, first: number, previous: number) {
  return {
    order,
    name,
    count,
    conversion_from_start: count / first,
    conversion_from_previous: count / previous,
    drop_off: previous - count,
    drop_off_rate: (previous - count) / previous,
    median_time_to_convert_s: order === 0 ? null : 60,
  };
}

const FUNNEL: FunnelResult = {
  counted_by: "device",
  steps: [
    step(0, "product_view", 3, 3, 3),
    step(1, "add_to_cart", 2, 3, 3),
    step(2, "purchase_complete", 1, 3, 2),
  ],
  breakdowns: [],
  truncated: false,
};

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

function choose(label: string, value: string): void {
  fireEvent.change(screen.getByLabelText(label), { target: { value } });
}

describe("Funnels page", () => {
  it("builds a 3-step funnel, runs it and shows the conversion table", async () => {
    gateway("editor", (url, init) =>
      url === "/api/v1/analytics/funnels" && init?.method === "POST" ? json(FUNNEL) : undefined,
    );
    const router = show("/insights/funnels", <FunnelsPage />);
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Funnels");
    choose("Step 1 event", "product_view");
    choose("Step 2 event", "add_to_cart");
    fireEvent.click(screen.getByRole("button", { name: "Add step" }));
    choose("Step 3 event", "purchase_complete");
    choose("Conversion window", "2");
    choose("Window unit", "hour");
    fireEvent.click(screen.getByRole("button", { name: "Run" }));

    const table = await screen.findByRole("table", { name: "Funnel steps" });
    const rows = within(table).getAllByRole("row").map((r) => r.textContent);
    expect(rows[1]).toContain("product_view");
    expect(rows[2]).toContain("66.7%");
    expect(rows[3]).toMatch(/purchase_complete.*1.*33\.3%.*50%.*1.*50%/);
    expect(screen.getByText("33.3% of 3 converted")).toBeTruthy();

    const post = calls.find((c) => c.url === "/api/v1/analytics/funnels");
    expect(post?.body).toEqual({
      steps: [
        { event_type: "product_view" },
        { event_type: "add_to_cart" },
        { event_type: "purchase_complete" },
      ],
      date_range: "30d",
      window: { value: 2, unit: "hour" },
      counted_by: "device",
    });
    // the run is in the URL, for reloads, links and dashboard tiles
    expect(JSON.parse(new URLSearchParams(router.state.location.search).get("q") ?? "")).toEqual(
      post?.body,
    );
    // editors may save it
    expect(screen.getByRole("button", { name: "Save to dashboard" })).toBeTruthy();
  });

  it("says what is wrong with the form before asking the gateway", async () => {
    gateway("viewer", () => undefined);
    show("/insights/funnels", <FunnelsPage />);
    choose("Step 1 event", "custom");
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("name the custom event");
    expect(alert.textContent).toContain("steps[0].event_name");
    expect(calls.some((c) => c.url.includes("/analytics/funnels"))).toBe(false);
    // viewers do not get the save action
    await waitFor(() => expect(screen.queryByRole("button", { name: "Save to dashboard" })).toBeNull());
  });

  it("shows the gateway's error in words, naming the field", async () => {
    gateway("viewer", (url) =>
      url === "/api/v1/analytics/funnels"
        ? json(
            { error: { code: "invalid_insight", message: "the conversion window is 1 minute to 90 days", field: "window" } },
            422,
          )
        : undefined,
    );
    show("/insights/funnels", <FunnelsPage />);
    choose("Step 1 event", "login");
    choose("Step 2 event", "logout");
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("the conversion window is 1 minute to 90 days");
    expect(alert.textContent).toContain("window");
  });

  it("reopens and runs a definition from the URL", async () => {
    gateway("viewer", (url) => (url === "/api/v1/analytics/funnels" ? json(FUNNEL) : undefined));
    const q = {
      steps: [{ event_type: "product_view" }, { event_type: "purchase_complete" }],
      date_range: "7d",
      window: { value: 1, unit: "day" },
      counted_by: "user",
    };
    show(`/insights/funnels?q=${encodeURIComponent(JSON.stringify(q))}`, <FunnelsPage />);
    await screen.findByRole("table", { name: "Funnel steps" });
    expect((screen.getByLabelText("Step 2 event") as HTMLSelectElement).value).toBe("purchase_complete");
    expect((screen.getByLabelText("Count") as HTMLSelectElement).value).toBe("user");
    expect(calls.find((c) => c.url === "/api/v1/analytics/funnels")?.body).toEqual(q);
  });
});

describe("Dashboards page", () => {
  it("tells an editor what to do when there are none, and creates one", async () => {
    gateway("editor", (url, init) => {
      if (url.startsWith("/api/v1/analytics/dashboards?")) {
        return json({ items: [], total: 0, limit: 20, offset: 0 });
      }
      if (url === "/api/v1/analytics/dashboards" && init?.method === "POST") {
        return json({ id: "d9", name: "Shop", tiles: [] }, 201);
      }
      return undefined;
    });
    const router = show("/", <DashboardsPage />);
    await screen.findByText("No dashboards yet");
    fireEvent.click(screen.getByRole("button", { name: "Create your first dashboard" }));
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    expect((await screen.findByRole("alert")).textContent).toContain("Give the dashboard a name");
    choose("Name", "Shop");
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    await waitFor(() => expect(router.state.location.pathname).toBe("/dashboards/d9"));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      name: "Shop",
      description: "",
      date_range: "30d",
      tiles: [],
      refresh_s: 0,
    });
  });

  it("lists dashboards for a viewer without write actions", async () => {
    gateway("viewer", (url) =>
      url.startsWith("/api/v1/analytics/dashboards?")
        ? json({
            items: [
              {
                id: "d1",
                owner_id: null,
                name: "Growth",
                description: "weekly",
                date_range: "30d",
                tiles: [],
                refresh_s: 60,
                created_at: "2026-11-01T00:00:00Z",
                updated_at: "2026-11-01T00:00:00Z",
              },
            ],
            total: 1,
            limit: 20,
            offset: 0,
          })
        : undefined,
    );
    show("/", <DashboardsPage />);
    const link = await screen.findByRole("link", { name: "Growth" });
    expect(link.getAttribute("href")).toBe("/dashboards/d1");
    expect(screen.getByText("Last 30 days")).toBeTruthy();
    expect(screen.getByText("Every minute")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "New dashboard" })).toBeNull();
    expect(screen.queryByRole("button", { name: /Delete/ })).toBeNull();
  });
});
