// Previous / next for every list the gateway pages with limit and offset.

import type { ReactNode } from "react";

import { formatNumber } from "../lib/format";

export interface PagerProps {
  total: number;
  limit: number;
  offset: number;
  onChange: (offset: number) => void;
  /** Name for the navigation landmark when a page has more than one list. */
  label?: string;
}

export function Pager({ total, limit, offset, onChange, label = "Pages" }: PagerProps): ReactNode {
  if (total <= limit && offset === 0) {
    return total > 0 ? <p className="pager-summary">{formatNumber(total)} in all</p> : null;
  }
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(offset + limit, total);
  const hasPrev = offset > 0;
  const hasNext = offset + limit < total;
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" disabled={!hasPrev} onClick={() => onChange(Math.max(0, offset - limit))}>
        Previous
      </button>
      <span aria-live="polite">
        {formatNumber(first)}–{formatNumber(last)} of {formatNumber(total)}
      </span>
      <button type="button" disabled={!hasNext} onClick={() => onChange(offset + limit)}>
        Next
      </button>
    </nav>
  );
}

export default Pager;
