// What to do when there is nothing yet: a title and the next step (a button, a snippet).

import type { ReactNode } from "react";

export interface EmptyStateProps {
  title: string;
  children?: ReactNode;
}

export function EmptyState({ title, children }: EmptyStateProps): ReactNode {
  return (
    <section className="empty-state" aria-label={title}>
      <h2>{title}</h2>
      {children !== undefined && <div className="empty-state-body">{children}</div>}
    </section>
  );
}

export default EmptyState;
