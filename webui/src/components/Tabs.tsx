// Tabs as WAI-ARIA describes them: a tablist of real buttons, arrow keys / Home / End move
// between them, the active panel is labelled by its tab.

import { useId, useRef, type KeyboardEvent, type ReactNode } from "react";

export interface TabItem<K extends string = string> {
  id: K;
  label: ReactNode;
}

export interface TabsProps<K extends string = string> {
  tabs: readonly TabItem<K>[];
  value: K;
  onChange: (id: K) => void;
  /** The tablist's accessible name, e.g. "Settings sections". */
  label: string;
  /** The active tab's panel. */
  children?: ReactNode;
}

export function Tabs<K extends string>({ tabs, value, onChange, label, children }: TabsProps<K>): ReactNode {
  const base = useId();
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const index = Math.max(
    0,
    tabs.findIndex((t) => t.id === value),
  );

  const move = (to: number): void => {
    const n = tabs.length;
    if (n === 0) return;
    const i = ((to % n) + n) % n;
    const tab = tabs[i];
    if (tab === undefined) return;
    onChange(tab.id);
    refs.current[i]?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>): void => {
    if (event.key === "ArrowRight") move(index + 1);
    else if (event.key === "ArrowLeft") move(index - 1);
    else if (event.key === "Home") move(0);
    else if (event.key === "End") move(tabs.length - 1);
    else return;
    event.preventDefault();
  };

  return (
    <div className="tabs">
      <div role="tablist" aria-label={label} className="tablist" onKeyDown={onKeyDown}>
        {tabs.map((tab, i) => {
          const selected = tab.id === value;
          return (
            <button
              key={tab.id}
              ref={(el) => {
                refs.current[i] = el;
              }}
              type="button"
              role="tab"
              id={`${base}-tab-${tab.id}`}
              aria-selected={selected}
              aria-controls={`${base}-panel`}
              tabIndex={selected ? 0 : -1}
              className={selected ? "tab active" : "tab"}
              onClick={() => onChange(tab.id)}
            >
              {tab.label}
            </button>
          );
        })}
      </div>
      <div role="tabpanel" id={`${base}-panel`} aria-labelledby={`${base}-tab-${value}`} className="tabpanel">
        {children}
      </div>
    </div>
  );
}

export default Tabs;
