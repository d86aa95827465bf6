import { describe, expect, it } from "vitest";

import {
  addChild,
  apiErrorOnNode,
  canAddChild,
  countNodes,
  emptyTree,
  errorTarget,
  errorsFor,
  findNode,
  fromApi,
  listItems,
  newGroup,
  newLeaf,
  removeNode,
  setGroupOp,
  suggestedValueType,
  toApi,
  updateLeaf,
  valueKind,
  wrapNode,
  type EditorGroup,
  type EditorLeaf,
} from "./condition";

const DOC_EXAMPLE = {
  all: [
    { field: "device_context.platform", op: "eq", value: "ios" },
    { field: "properties.amount", op: "gte", value: 100 },
  ],
};

function leafAt(root: EditorGroup, ...path: number[]): EditorLeaf {
  let node: EditorGroup | EditorLeaf = root;
  for (const i of path) {
    if (node.kind !== "group") throw new Error("not a group");
    const next: EditorGroup | EditorLeaf | undefined = node.children[i];
    if (!next) throw new Error("no child");
    node = next;
  }
  if (node.kind !== "leaf") throw new Error("not a leaf");
  return node;
}

describe("conversion", () => {
  it("round-trips the documented example", () => {
    const tree = fromApi(DOC_EXAMPLE);
    expect(tree.op).toBe("all");
    expect(leafAt(tree, 1)).toMatchObject({ op: "gte", valueType: "number", text: "100" });
    expect(toApi(tree)).toEqual({ ok: true, condition: DOC_EXAMPLE });
  });

  it("round-trips nested groups, lists, exists and every scalar type", () => {
    const condition = {
      any: [
        { not: { field: "user_id", op: "exists" } },
        { field: "properties.tags", op: "contains", value: "vip" },
        { field: "device_context.is_emulator", op: "eq", value: false },
        {
          all: [
            { field: "properties.code", op: "in", value: [1, 2, 3] },
            { field: "device_context.platform", op: "not_in", value: ["web", "server"] },
            { field: "properties.note", op: "exists", value: false },
            { field: "event_name", op: "regex", value: "(?i)^check" },
            { field: "properties.x", op: "lt", value: 1.5 },
          ],
        },
      ],
    };
    expect(toApi(fromApi(condition))).toEqual({ ok: true, condition });
  });

  it("keeps mixed lists and odd strings exact through JSON items", () => {
    const condition = { field: "properties.v", op: "in", value: ["a", 1, true, " spaced "] };
    const tree = fromApi(condition);
    const leaf = leafAt(tree, 0);
    expect(leaf.valueType).toBe("json");
    expect(leaf.text).toBe('"a"\n1\ntrue\n" spaced "');
    expect(toApi(tree)).toEqual({ ok: true, condition: { all: [condition] } });
  });

  it("keeps a string that looks like a number a string", () => {
    const condition = { all: [{ field: "properties.code", op: "eq", value: "5" }] };
    const tree = fromApi(condition);
    expect(leafAt(tree, 0).valueType).toBe("string");
    expect(toApi(tree)).toEqual({ ok: true, condition });
  });

  it("treats null and an empty root as no condition", () => {
    expect(fromApi(null).children).toHaveLength(0);
    expect(toApi(emptyTree())).toEqual({ ok: true, condition: null });
  });

  it("wraps a bare leaf in an All-of root", () => {
    const tree = fromApi({ field: "user_id", op: "eq", value: "u1" });
    expect(tree.op).toBe("all");
    expect(leafAt(tree, 0).field).toBe("user_id");
  });

  it("refuses unknown operators from the server", () => {
    expect(() => fromApi({ field: "x", op: "like", value: 1 })).toThrow(/unknown operator/);
  });

  it("reports local problems on their nodes", () => {
    const bad = newLeaf({ field: "properties.amount", op: "gte", text: "12a" });
    const noField = newLeaf({ field: " ", op: "eq", text: "x" });
    const badList = newLeaf({ field: "properties.n", op: "in", valueType: "number", text: "1\nx" });
    const empty = newGroup("any", []);
    const root = newGroup("all", [bad, noField, badList, empty]);
    const result = toApi(root);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(errorsFor(result.errors, bad.id).value).toMatch(/not a number/);
    expect(errorsFor(result.errors, noField.id).field).toMatch(/choose a field/);
    expect(result.errors.find((e) => e.nodeId === badList.id)).toMatchObject({ item: 1 });
    expect(errorsFor(result.errors, empty.id).node).toMatch(/add a condition/);
  });

  it("types values by operator", () => {
    expect(valueKind("in")).toBe("list");
    expect(valueKind("exists")).toBe("exists");
    expect(valueKind("gt")).toBe("number");
    expect(valueKind("regex")).toBe("text");
    expect(valueKind("eq")).toBe("scalar");
    const boolLeaf = newLeaf({ field: "x", op: "eq", valueType: "boolean", text: "maybe" });
    expect(toApi(newGroup("all", [boolLeaf])).ok).toBe(false);
    const jsonLeaf = newLeaf({ field: "x", op: "eq", valueType: "json", text: "{}" });
    expect(toApi(newGroup("all", [jsonLeaf])).ok).toBe(false);
    expect(listItems("a\n\n b \r\n")).toEqual(["a", " b "]);
  });

  it("suggests value types from known fields", () => {
    expect(suggestedValueType("device_context.screen_width", "string")).toBe("number");
    expect(suggestedValueType("device_context.is_jailbroken", "string")).toBe("boolean");
    expect(suggestedValueType("user_id", "number")).toBe("string");
    expect(suggestedValueType("properties.amount", "number")).toBe("number");
  });
});

describe("immutable edits", () => {
  it("updates one leaf and keeps untouched branches identical", () => {
    const tree = fromApi({ all: [{ any: [{ field: "a", op: "eq", value: "1" }] }, { field: "b", op: "eq", value: "2" }] });
    const target = leafAt(tree, 1);
    const next = updateLeaf(tree, target.id, { text: "3" });
    expect(next).not.toBe(tree);
    expect(tree.children[1]).toBe(target);
    expect(leafAt(tree, 1).text).toBe("2");
    expect(leafAt(next, 1).text).toBe("3");
    expect(next.children[0]).toBe(tree.children[0]);
  });

  it("adds, removes and nests", () => {
    let tree = emptyTree();
    const a = newLeaf({ field: "a", text: "1" });
    const b = newLeaf({ field: "b", text: "2" });
    tree = addChild(tree, tree.id, a);
    tree = addChild(tree, tree.id, b);
    expect(countNodes(tree)).toBe(3);
    tree = wrapNode(tree, b.id, "any");
    const wrapper = tree.children[1];
    expect(wrapper?.kind === "group" && wrapper.op).toBe("any");
    expect(toApi(tree)).toEqual({
      ok: true,
      condition: { all: [{ field: "a", op: "eq", value: "1" }, { any: [{ field: "b", op: "eq", value: "2" }] }] },
    });
    tree = removeNode(tree, a.id);
    expect(findNode(tree, a.id)).toBeUndefined();
    expect(findNode(tree, b.id)).toBeDefined();
    tree = removeNode(tree, tree.id);
    expect(tree.children).toHaveLength(0);
  });

  it("wraps the root itself", () => {
    const tree = fromApi(DOC_EXAMPLE);
    const next = wrapNode(tree, tree.id, "not");
    expect(toApi(next)).toEqual({ ok: true, condition: { not: DOC_EXAMPLE } });
  });

  it("turns a group of several into not-all and keeps not to one child", () => {
    const tree = fromApi(DOC_EXAMPLE);
    const negated = setGroupOp(tree, tree.id, "not");
    expect(toApi(negated)).toEqual({ ok: true, condition: { not: { all: DOC_EXAMPLE.all } } });
    expect(canAddChild(negated)).toBe(false);
    const same = addChild(negated, negated.id, newLeaf({ field: "c", text: "x" }));
    expect(same).toBe(negated);
    const any = setGroupOp(tree, tree.id, "any");
    expect(toApi(any)).toEqual({ ok: true, condition: { any: DOC_EXAMPLE.all } });
    expect(tree.op).toBe("all");
  });
});

describe("API error paths", () => {
  const tree = fromApi({
    all: [
      { field: "user_id", op: "eq", value: "u" },
      { any: [{ field: "x", op: "eq", value: 1 }, { not: { field: "properties.tags", op: "in", value: ["a", "b"] } }] },
    ],
  });

  it("names the leaf and its part", () => {
    const first = leafAt(tree, 0);
    expect(errorTarget(tree, "condition.all[0].op")).toMatchObject({ nodeId: first.id, part: "op" });
    expect(errorTarget(tree, "condition.all[0].field")).toMatchObject({ part: "field" });
  });

  it("walks any and not, down to a list item", () => {
    const group = tree.children[1];
    if (!group || group.kind !== "group") throw new Error("expected a group");
    const notGroup = group.children[1];
    if (!notGroup || notGroup.kind !== "group") throw new Error("expected not");
    const inner = notGroup.children[0];
    expect(errorTarget(tree, "condition.all[1].any[1].not.value[1]")).toEqual({
      nodeId: inner?.id,
      part: "value",
      message: "",
      item: 1,
    });
    expect(errorTarget(tree, "condition.all[1].any[1]")).toMatchObject({ nodeId: notGroup.id, part: "node" });
  });

  it("names the root for whole-tree problems and the node for unknown keys", () => {
    expect(errorTarget(tree, "condition")).toMatchObject({ nodeId: tree.id, part: "node" });
    const first = leafAt(tree, 0);
    expect(errorTarget(tree, "condition.all[0].colour")).toMatchObject({ nodeId: first.id, part: "node" });
  });

  it("stops at the deepest node the tree still has", () => {
    expect(errorTarget(tree, "condition.all[7].op")).toMatchObject({ nodeId: tree.id, part: "node" });
  });

  it("ignores fields outside the condition and carries the message", () => {
    expect(errorTarget(tree, "name")).toBeNull();
    expect(errorTarget(tree, "conditions.all[0]")).toBeNull();
    expect(errorTarget(tree, undefined)).toBeNull();
    const placed = apiErrorOnNode(tree, "condition.all[0].value", "condition.all[0].value: bad");
    expect(placed).toMatchObject({ nodeId: leafAt(tree, 0).id, part: "value", message: "condition.all[0].value: bad" });
  });
});
