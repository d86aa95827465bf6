import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { useState, type ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";

import { emptyTree, toApi, type EditorGroup, type NodeError } from "../../lib/reactions/condition";
import { ConditionEditor } from "./ConditionEditor";

let latest: EditorGroup = emptyTree();

function Harness({ errors = [] }: { errors?: readonly NodeError[] }): ReactNode {
  const [tree, setTree] = useState<EditorGroup>(() => emptyTree());
  latest = tree;
  return <ConditionEditor value={tree} onChange={setTree} errors={errors} />;
}

afterEach(cleanup);

describe("ConditionEditor", () => {
  it("builds a tree with typed value inputs per operator", () => {
    render(<Harness />);
    expect(screen.getByText(/No conditions: every event in the scope matches/)).toBeTruthy();
    act(() => fireEvent.click(screen.getByRole("button", { name: "Add condition" })));
    fireEvent.change(screen.getByLabelText("Field", { exact: true }), { target: { value: "properties.plan" } });
    fireEvent.change(screen.getByLabelText("Operator", { exact: true }), { target: { value: "in" } });
    const list = screen.getByLabelText("Values (one per line)");
    expect(list.tagName).toBe("TEXTAREA");
    fireEvent.change(list, { target: { value: "pro\nteam" } });
    act(() => fireEvent.click(screen.getByRole("button", { name: "Add group" })));
    const fields = screen.getAllByLabelText("Field", { exact: true });
    fireEvent.change(fields[1] as HTMLElement, { target: { value: "user_id" } });
    const ops = screen.getAllByLabelText("Operator", { exact: true });
    fireEvent.change(ops[1] as HTMLElement, { target: { value: "exists" } });
    expect(screen.queryAllByLabelText("Value", { exact: true })).toHaveLength(0);
    fireEvent.change(screen.getByLabelText("Test"), { target: { value: "absent" } });
    expect(toApi(latest)).toEqual({
      ok: true,
      condition: {
        all: [
          { field: "properties.plan", op: "in", value: ["pro", "team"] },
          { any: [{ field: "user_id", op: "exists", value: false }] },
        ],
      },
    });
    act(() => fireEvent.click(screen.getByRole("button", { name: "Remove condition properties.plan" })));
    expect(screen.getAllByLabelText("Field", { exact: true })).toHaveLength(1);
  });

  it("shows an error on the node and part it names", () => {
    const { rerender } = render(<Harness />);
    act(() => fireEvent.click(screen.getByRole("button", { name: "Add condition" })));
    const leaf = latest.children[0];
    if (!leaf) throw new Error("no leaf");
    rerender(<Harness errors={[{ nodeId: leaf.id, part: "op", message: "condition.all[0].op: unknown operator" }]} />);
    expect(screen.getByRole("alert").textContent).toContain("unknown operator");
    expect(screen.getByLabelText("Operator", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText("Field", { exact: true }).getAttribute("aria-invalid")).toBeNull();
  });
});
