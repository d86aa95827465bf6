// The frame every insight builder shares: the page header, the form with "Run" (and "Save to
// dashboard" for editors), the form's own error, then the answer, its loading state or the
// gateway's error in words, right under the form that caused it.

import type { UseQueryResult } from "@tanstack/react-query";
import { useId, type FormEvent, type ReactNode } from "react";

import { useSession } from "../../api/session";
import { EmptyState } from "../EmptyState";
import { ErrorNote } from "../ErrorNote";
import { Loading } from "../Loading";
import { PageHeader } from "../PageHeader";
import type { FormError } from "../../lib/insights/forms";
import type { InsightKind } from "../../lib/insights/types";
import { FormErrorNote } from "./FormPieces";
import { SaveToDashboard } from "./SaveToDashboard";
import "./insights.css";

export interface BuilderFrameProps<T> {
  title: string;
  description: ReactNode;
  kind: InsightKind;
  /** The form's fields. */
  children: ReactNode;
  onRun: () => void;
  formError: FormError | null;
  /** The query last run (for Save to dashboard). */
  submitted: object | null;
  defaultTitle: string;
  result: UseQueryResult<T>;
  /** What to show before the first run. */
  idle: ReactNode;
  render: (data: T) => ReactNode;
}

export function BuilderFrame<T>({
  title,
  description,
  kind,
  children,
  onRun,
  formError,
  submitted,
  defaultTitle,
  result,
  idle,
  render,
}: BuilderFrameProps<T>): ReactNode {
  const { can } = useSession();
  const formId = useId();
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    onRun();
  };
  return (
    <>
      <PageHeader title={title} description={description} />
      <section className="card" aria-label={`${title} definition`}>
        <form id={formId} className="insight-form" onSubmit={submit} noValidate>
          {children}
          <FormErrorNote error={formError} />
        </form>
        {/* Run submits the form from outside it, so Save to dashboard (a form of its own)
            can sit on the same row without nesting forms */}
        <div className="insight-actions" style={{ marginTop: "0.75rem" }}>
          <button type="submit" form={formId} className="primary" disabled={result.isFetching}>
            {result.isFetching ? "Running…" : "Run"}
          </button>
          {can("editor") && (
            <SaveToDashboard kind={kind} query={submitted} defaultTitle={defaultTitle} />
          )}
        </div>
      </section>
      <section aria-label={`${title} result`} aria-busy={result.isFetching}>
        {submitted === null && <EmptyState title="Nothing run yet">{idle}</EmptyState>}
        {result.isError && <ErrorNote error={result.error} title={`Could not run the ${kind}`} />}
        {result.isPending && submitted !== null && <Loading label="Running the query…" />}
        {result.data !== undefined && !result.isError && render(result.data)}
      </section>
    </>
  );
}
