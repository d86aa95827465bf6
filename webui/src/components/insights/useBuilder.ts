// A builder page's state: the form, its error, and the run. The query last run is kept in the
// URL (`?q=`), so a reload, a shared link or a dashboard tile's "Open" lands on the same
// insight, already run.

import { useMemo, useState } from "react";
import { useSearchParams } from "react-router";

import { parseQueryParam } from "../../lib/insights/dashboards";
import { FormError } from "../../lib/insights/forms";
import type { InsightKind, InsightQueries } from "../../lib/insights/types";
import { useInsightRun, type InsightRun } from "./useInsight";

export interface Builder<K extends InsightKind, F> {
  form: F;
  setForm: (next: F) => void;
  formError: FormError | null;
  onRun: () => void;
  run: InsightRun<K>;
}

export function useBuilder<K extends InsightKind, F>(
  kind: K,
  defaults: () => F,
  fromQuery: (query: InsightQueries[K]) => F,
  build: (form: F) => InsightQueries[K],
): Builder<K, F> {
  const [params, setParams] = useSearchParams();
  // read once, on mount: later URL changes are our own writes
  const initial = useMemo(() => {
    const raw = parseQueryParam(params.get("q")) as InsightQueries[K] | null;
    if (raw === null) return { form: defaults(), query: null };
    try {
      return { form: fromQuery(raw), query: raw };
    } catch {
      return { form: defaults(), query: null };
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const [form, setForm] = useState<F>(initial.form);
  const [formError, setFormError] = useState<FormError | null>(null);
  const run = useInsightRun(kind, initial.query);

  const onRun = (): void => {
    let query: InsightQueries[K];
    try {
      query = build(form);
    } catch (error) {
      if (error instanceof FormError) {
        setFormError(error);
        return;
      }
      throw error;
    }
    setFormError(null);
    run.submit(query);
    setParams({ q: JSON.stringify(query) }, { replace: true });
  };

  return { form, setForm, formError, onRun, run };
}
