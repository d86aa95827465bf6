import { describe, expect, it } from "vitest";

import {
  FormError,
  buildDateRange,
  buildFilter,
  buildFunnelQuery,
  buildPathsQuery,
  buildRetentionQuery,
  buildTrendsQuery,
  dateRangeForm,
  defaultFunnelForm,
  defaultPathsForm,
  defaultRetentionForm,
  defaultTitle,
  defaultTrendsForm,
  describeRange,
  emptySelector,
  emptySeries,
  funnelFormFromQuery,
  pathsFormFromQuery,
  retentionFormFromQuery,
  trendsFormFromQuery,
} from "./forms";

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof FormError) return error.field;
    throw error;
  }
  throw new Error("expected a FormError");
}

describe("date ranges", () => {
  it("sends relative ranges as the short string", () => {
    expect(buildDateRange({ mode: "last", last: " 30d ", from: "", to: "" })).toBe("30d");
    expect(buildDateRange({ mode: "last", last: "24h", from: "", to: "" })).toBe("24h");
  });

  it("refuses what the gateway would refuse, naming the field", () => {
    expect(fieldOf(() => buildDateRange({ mode: "last", last: "0d", from: "", to: "" }))).toBe(
      "date_range",
    );
    expect(fieldOf(() => buildDateRange({ mode: "last", last: "7y", from: "", to: "" }))).toBe(
      "date_range",
    );
    expect(
      fieldOf(() => buildDateRange({ mode: "between", last: "", from: "", to: "" })),
    ).toBe("date_range.from");
    expect(
      fieldOf(() =>
        buildDateRange({ mode: "between", last: "", from: "2026-11-10", to: "2026-11-01" }),
      ),
    ).toBe("date_range.to");
  });

  it("sends absolute ranges with an optional end", () => {
    expect(
      buildDateRange({ mode: "between", last: "", from: "2026-11-01", to: "2026-11-30" }),
    ).toEqual({ from: "2026-11-01", to: "2026-11-30" });
    expect(buildDateRange({ mode: "between", last: "", from: "2026-11-01", to: "" })).toEqual({
      from: "2026-11-01",
    });
  });

  it("reads every API form back", () => {
    expect(dateRangeForm("7d")).toMatchObject({ mode: "last", last: "7d" });
    expect(dateRangeForm({ last: "4w" })).toMatchObject({ mode: "last", last: "4w" });
    expect(dateRangeForm({ from: "2026-01-01" })).toMatchObject({
      mode: "between",
      from: "2026-01-01",
      to: "",
    });
    expect(dateRangeForm(null, "8w")).toMatchObject({ mode: "last", last: "8w" });
  });

  it("describes ranges in words", () => {
    expect(describeRange("30d")).toBe("Last 30 days");
    expect(describeRange({ last: "1w" })).toBe("Last 1 week");
    expect(describeRange({ from: "2026-11-01", to: "2026-11-30" })).toBe("2026-11-01 – 2026-11-30");
    expect(describeRange({ from: "2026-11-01" })).toBe("Since 2026-11-01");
  });
});

describe("filters", () => {
  it("types values by the property's kind", () => {
    expect(buildFilter({ property: "platform", op: "eq", value: "ios" }, "f")).toEqual({
      property: "platform",
      op: "eq",
      value: "ios",
    });
    // a text column keeps number-looking text as text (the gateway refuses a number there)
    expect(buildFilter({ property: "app_version", op: "eq", value: "1.2" }, "f").value).toBe("1.2");
    expect(buildFilter({ property: "screen_width", op: "gte", value: "390" }, "f").value).toBe(390);
    expect(buildFilter({ property: "is_emulator", op: "eq", value: "false" }, "f").value).toBe(
      false,
    );
    expect(
      buildFilter({ property: "properties.price_cents", op: "eq", value: "1000" }, "f").value,
    ).toBe(1000);
    expect(
      buildFilter({ property: "properties.code", op: "eq", value: '"1000"' }, "f").value,
    ).toBe("1000");
    expect(
      buildFilter({ property: "properties.currency", op: "in", value: "EUR, USD,," }, "f").value,
    ).toEqual(["EUR", "USD"]);
  });

  it("sends no value for is_set", () => {
    expect(buildFilter({ property: "user_id", op: "is_set", value: "x" }, "f")).toEqual({
      property: "user_id",
      op: "is_set",
    });
  });

  it("names the field of a bad row", () => {
    expect(fieldOf(() => buildFilter({ property: "", op: "eq", value: "1" }, "filters[2]"))).toBe(
      "filters[2].property",
    );
    expect(fieldOf(() => buildFilter({ property: "nope", op: "eq", value: "1" }, "f"))).toBe(
      "f.property",
    );
    expect(fieldOf(() => buildFilter({ property: "platform", op: "eq", value: " " }, "f"))).toBe(
      "f.value",
    );
    expect(fieldOf(() => buildFilter({ property: "platform", op: "gt", value: "3" }, "f"))).toBe(
      "f.op",
    );
    expect(
      fieldOf(() => buildFilter({ property: "screen_width", op: "eq", value: "wide" }, "f")),
    ).toBe("f.value");
  });
});

describe("trends", () => {
  it("builds the README's example body", () => {
    const form = defaultTrendsForm();
    form.series = [{ ...emptySeries("purchase_complete"), math: "unique_users" }];
    form.breakdown = "platform";
    form.compare = true;
    expect(buildTrendsQuery(form)).toEqual({
      series: [{ event_type: "purchase_complete", math: "unique_users" }],
      date_range: "30d",
      interval: "day",
      breakdown: "platform",
      breakdown_limit: 10,
      compare: true,
    });
  });

  it("leaves optional fields out and needs a property for sums", () => {
    const form = defaultTrendsForm();
    expect(buildTrendsQuery(form)).toEqual({
      series: [{ math: "total" }],
      date_range: "30d",
      interval: "day",
    });
    form.series = [emptySeries("purchase_complete"), { ...emptySeries("checkout_start"), math: "sum" }];
    expect(fieldOf(() => buildTrendsQuery(form))).toBe("series[1].property");
    const second = form.series[1];
    if (second === undefined) throw new Error("no second series");
    second.property = "properties.price_cents";
    expect(buildTrendsQuery(form).series[1]).toEqual({
      event_type: "checkout_start",
      math: "sum",
      property: "properties.price_cents",
    });
  });

  it("needs a name for custom events and carries series filters", () => {
    const form = defaultTrendsForm();
    form.series = [
      {
        ...emptySeries("custom"),
        filters: [{ property: "properties.plan", op: "eq", value: "pro" }],
      },
    ];
    expect(fieldOf(() => buildTrendsQuery(form))).toBe("series[0].event_name");
    const series = form.series[0];
    if (series === undefined) throw new Error("no series");
    series.eventName = "level_up";
    expect(buildTrendsQuery(form).series[0]).toEqual({
      event_type: "custom",
      event_name: "level_up",
      filters: [{ property: "properties.plan", op: "eq", value: "pro" }],
      math: "total",
    });
  });

  it("round-trips through the form", () => {
    const query = {
      series: [
        {
          event_type: "purchase_complete",
          math: "sum" as const,
          property: "properties.price_cents",
          filters: [{ property: "properties.currency", op: "eq" as const, value: "EUR" }],
        },
      ],
      date_range: { from: "2026-11-01", to: "2026-11-30" },
      interval: "week" as const,
      filters: [{ property: "platform", op: "in" as const, value: ["ios", "android"] }],
      breakdown: "platform",
      breakdown_limit: 5,
      compare: true,
    };
    expect(buildTrendsQuery(trendsFormFromQuery(query))).toEqual(query);
  });
});

describe("funnels", () => {
  it("builds the README's example body", () => {
    const form = defaultFunnelForm();
    form.steps = [
      emptySelector("product_view"),
      emptySelector("add_to_cart"),
      emptySelector("purchase_complete"),
    ];
    expect(buildFunnelQuery(form)).toEqual({
      steps: [
        { event_type: "product_view" },
        { event_type: "add_to_cart" },
        { event_type: "purchase_complete" },
      ],
      date_range: "30d",
      window: { value: 1, unit: "day" },
      counted_by: "device",
    });
  });

  it("checks the step count and window", () => {
    const form = defaultFunnelForm();
    form.steps = [emptySelector("login")];
    expect(fieldOf(() => buildFunnelQuery(form))).toBe("steps");
    form.steps = [emptySelector("login"), emptySelector("signup")];
    form.windowValue = "0";
    expect(fieldOf(() => buildFunnelQuery(form))).toBe("window.value");
    form.windowValue = "13";
    form.windowUnit = "week";
    expect(fieldOf(() => buildFunnelQuery(form))).toBe("window.value");
    form.windowValue = "30";
    form.windowUnit = "minute";
    expect(buildFunnelQuery(form).window).toEqual({ value: 30, unit: "minute" });
  });

  it("round-trips through the form", () => {
    const query = {
      steps: [{ event_type: "login" }, { event_type: "custom", event_name: "level_up" }],
      date_range: "7d",
      window: { value: 2, unit: "hour" as const },
      counted_by: "user" as const,
      breakdown: "properties.plan",
    };
    expect(buildFunnelQuery(funnelFormFromQuery(query))).toEqual(query);
  });
});

describe("retention", () => {
  it("builds the README's example body, any event returning", () => {
    expect(buildRetentionQuery(defaultRetentionForm())).toEqual({
      cohort_event: { event_type: "signup" },
      return_event: {},
      period: "week",
      date_range: "8w",
      counted_by: "device",
    });
  });

  it("round-trips through the form", () => {
    const query = {
      cohort_event: { event_type: "signup" },
      return_event: { event_type: "login" },
      period: "day" as const,
      date_range: "14d",
      counted_by: "user" as const,
    };
    expect(buildRetentionQuery(retentionFormFromQuery(query))).toEqual(query);
  });
});

describe("paths", () => {
  it("builds the README's example body", () => {
    const form = defaultPathsForm();
    form.start = " home ";
    expect(buildPathsQuery(form)).toEqual({
      start: "home",
      direction: "next",
      steps: 4,
      date_range: "7d",
      max_links: 50,
    });
  });

  it("checks depth", () => {
    const form = defaultPathsForm();
    form.steps = "1";
    expect(fieldOf(() => buildPathsQuery(form))).toBe("steps");
    form.steps = "11";
    expect(fieldOf(() => buildPathsQuery(form))).toBe("steps");
  });

  it("round-trips through the form", () => {
    const query = {
      start: "cart",
      direction: "previous" as const,
      steps: 3,
      date_range: "30d",
      screen_property: "properties.route",
      max_links: 20,
    };
    expect(buildPathsQuery(pathsFormFromQuery(query))).toEqual(query);
  });
});

describe("default titles", () => {
  it("say what a tile shows", () => {
    expect(
      defaultTitle("funnels", {
        steps: [{ event_type: "product_view" }, { event_type: "purchase_complete" }],
        date_range: "30d",
        window: { value: 1, unit: "day" },
        counted_by: "device",
      }),
    ).toBe("product_view → purchase_complete");
    expect(
      defaultTitle("trends", {
        series: [{ math: "total" }],
        date_range: "7d",
        interval: "day",
        breakdown: "platform",
      }),
    ).toBe("Any event by platform");
    expect(
      defaultTitle("paths", { start: "home", direction: "next", steps: 4, date_range: "7d" }),
    ).toBe("Paths from home");
  });
});
