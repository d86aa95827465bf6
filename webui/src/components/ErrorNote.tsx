// An API error in words, next to what failed. role="alert" so screen readers announce it and the
// browser tests find it; the field the gateway named is said too, so the user knows what to fix.

import type { ReactNode } from "react";

import { ApiError } from "../api/client";

function describe(error: unknown): { message: string; field?: string; hint?: string } {
  if (error instanceof ApiError) {
    let hint: string | undefined;
    if (error.status === 403 && error.code === "forbidden") hint = "Your role does not allow this.";
    else if (error.status === 401) hint = "Your session has ended; log in again.";
    else if (error.retryAfter !== undefined) hint = `Try again in ${error.retryAfter} s.`;
    return { message: error.message, field: error.field, hint };
  }
  if (error instanceof Error) return { message: error.message };
  if (typeof error === "string") return { message: error };
  return { message: "Something went wrong." };
}

export interface ErrorNoteProps {
  error: unknown;
  /** What was being done, e.g. "Could not save the rule". */
  title?: string;
}

export function ErrorNote({ error, title }: ErrorNoteProps): ReactNode {
  if (error === null || error === undefined || error === false) return null;
  const { message, field, hint } = describe(error);
  return (
    <div className="error-note" role="alert">
      {title !== undefined && <strong>{title}: </strong>}
      <span>{message}</span>
      {field !== undefined && (
        <span className="error-field">
          {" "}
          (field: <code>{field}</code>)
        </span>
      )}
      {hint !== undefined && <span> {hint}</span>}
    </div>
  );
}

export default ErrorNote;
