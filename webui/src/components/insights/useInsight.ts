// Running insights through the data cache: builders submit a query with "Run"; dashboard tiles
// run theirs on load and on the dashboard's refresh interval.

import { keepPreviousData, useQuery, type UseQueryResult } from "@tanstack/react-query";
import { useCallback, useState } from "react";

import { api } from "../../api/client";
import type { InsightKind, InsightQueries, InsightResults } from "../../lib/insights/types";

export const ANALYTICS = "/api/v1/analytics";

/** POST an insight definition to its endpoint. */
export function runInsight<K extends InsightKind>(
  kind: K,
  query: unknown,
  signal?: AbortSignal,
): Promise<InsightResults[K]> {
  return api<InsightResults[K]>(`${ANALYTICS}/${kind}`, { method: "POST", body: query, signal });
}

export interface InsightRun<K extends InsightKind> {
  /** The query last submitted (what the result answers), or null before the first Run. */
  submitted: InsightQueries[K] | null;
  result: UseQueryResult<InsightResults[K]>;
  /** Run a query; running the same one again fetches a fresh answer. */
  submit: (query: InsightQueries[K]) => void;
}

/** A builder's run state: nothing runs until `submit` (or an initial query from the URL). */
export function useInsightRun<K extends InsightKind>(
  kind: K,
  initial: InsightQueries[K] | null,
): InsightRun<K> {
  const [state, setState] = useState<{ query: InsightQueries[K] | null; run: number }>({
    query: initial,
    run: 0,
  });
  const result = useQuery({
    queryKey: ["insight", kind, state.query, state.run],
    queryFn: ({ signal }) => runInsight(kind, state.query, signal),
    enabled: state.query !== null,
    placeholderData: keepPreviousData,
    staleTime: Infinity,
    retry: false,
  });
  const submit = useCallback(
    (query: InsightQueries[K]) => setState((s) => ({ query, run: s.run + 1 })),
    [],
  );
  return { submitted: state.query, result, submit };
}
