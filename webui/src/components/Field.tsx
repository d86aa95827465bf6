// A labelled form control: the <label> points at the control (its id, or one made here), and an
// error under it is announced and tied to the control with aria-describedby.

import { cloneElement, isValidElement, useId, type ReactElement, type ReactNode } from "react";

export interface FieldProps {
  label: ReactNode;
  /** The error in words (or null); shown under the control. */
  error?: string | null | false;
  /** A hint under the control. */
  hint?: ReactNode;
  /** One control element (<input>, <select>, <textarea>). */
  children: ReactNode;
}

interface ControlProps {
  id?: string;
  "aria-invalid"?: boolean;
  "aria-describedby"?: string;
}

export function Field({ label, error, hint, children }: FieldProps): ReactNode {
  const made = useId();
  const errorText = typeof error === "string" && error !== "" ? error : null;
  let control = children;
  let id = made;
  if (isValidElement(children)) {
    const el = children as ReactElement<ControlProps>;
    id = el.props.id ?? made;
    const described = [
      errorText !== null ? `${id}-error` : null,
      hint !== undefined ? `${id}-hint` : null,
      el.props["aria-describedby"] ?? null,
    ]
      .filter((x): x is string => x !== null)
      .join(" ");
    control = cloneElement(el, {
      id,
      "aria-invalid": errorText !== null ? true : el.props["aria-invalid"],
      "aria-describedby": described === "" ? undefined : described,
    });
  }
  return (
    <div className={`field${errorText !== null ? " field-invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {control}
      {hint !== undefined && (
        <div className="field-hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {errorText !== null && (
        <div className="field-error" id={`${id}-error`} role="alert">
          {errorText}
        </div>
      )}
    </div>
  );
}

export default Field;
