// The page's one <h1> (the browser tests look pages up by it) and its main actions.

import { useEffect, type ReactNode } from "react";

export interface PageHeaderProps {
  title: string;
  actions?: ReactNode;
  /** A line under the title. */
  description?: ReactNode;
}

export function PageHeader({ title, actions, description }: PageHeaderProps): ReactNode {
  useEffect(() => {
    document.title = `${title} · Causality`;
  }, [title]);
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {description !== undefined && <p className="page-description">{description}</p>}
      </div>
      {actions !== undefined && <div className="page-actions">{actions}</div>}
    </header>
  );
}

export default PageHeader;
