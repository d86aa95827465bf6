// A quiet "Loading…" that screen readers hear once.

import type { ReactNode } from "react";

export function Loading({ label = "Loading…" }: { label?: string }): ReactNode {
  return (
    <p className="loading" role="status" aria-live="polite">
      {label}
    </p>
  );
}

export default Loading;
