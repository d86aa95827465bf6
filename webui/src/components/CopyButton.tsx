// "Copy" for secrets and snippets: the clipboard API where allowed, else a selected textarea
// and execCommand (plain http on a LAN address is not a secure context).

import { useState, type ReactNode } from "react";

async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard !== undefined && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the old way
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

export interface CopyButtonProps {
  text: string;
  label?: string;
}

export function CopyButton({ text, label = "Copy" }: CopyButtonProps): ReactNode {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  return (
    <span className="copy-button">
      <button
        type="button"
        onClick={() => {
          void copyText(text).then((ok) => {
            setState(ok ? "copied" : "failed");
            window.setTimeout(() => setState("idle"), 2000);
          });
        }}
      >
        {label}
      </button>
      <span className="copy-status" aria-live="polite">
        {state === "copied" ? "Copied" : state === "failed" ? "Copy failed: select the text and copy it" : ""}
      </span>
    </span>
  );
}

export default CopyButton;
