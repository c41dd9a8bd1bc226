import assert from "node:assert/strict";
import { test } from "node:test";
import { ghostText, jumpOrAccept, toNextEditsResult } from "../common/protocol";

const at = (line: number, character: number) => ({ line, character });
const range = { start: at(6, 10), end: at(6, 15) };

test("a next-edits answer is kept in order; malformed edits are left out, a malformed answer is undefined", () => {
  const good = { range, newText: "total_sum", confidence: 0.4 };
  assert.deepEqual(toNextEditsResult({ version: 5, edits: [good, { range, newText: 3 }, { newText: "x" }, good] }),
    { version: 5, edits: [good, good] });
  assert.deepEqual(toNextEditsResult({ version: 1, edits: [] }), { version: 1, edits: [] });
  assert.equal(toNextEditsResult(null), undefined);
  assert.equal(toNextEditsResult({ edits: [] }), undefined);
  assert.equal(toNextEditsResult({ version: 2, edits: "none" }), undefined);
  assert.equal(toNextEditsResult({ version: 2, edits: [{ range: { start: at(-1, 0), end: at(0, 0) }, newText: "" }] })!
    .edits.length, 0);
});

test("Tab jumps from outside the first suggestion and accepts inside it, both ends included", () => {
  assert.equal(jumpOrAccept(at(0, 13), range), "jump");
  assert.equal(jumpOrAccept(at(6, 9), range), "jump");
  assert.equal(jumpOrAccept(at(6, 16), range), "jump");
  assert.equal(jumpOrAccept(at(7, 0), range), "jump");
  assert.equal(jumpOrAccept(at(6, 10), range), "accept");
  assert.equal(jumpOrAccept(at(6, 12), range), "accept");
  assert.equal(jumpOrAccept(at(6, 15), range), "accept");
  const insertion = { start: at(2, 4), end: at(2, 4) };
  assert.equal(jumpOrAccept(at(2, 4), insertion), "accept");
});

test("the ghost text is one line, cut when long", () => {
  assert.equal(ghostText("total_sum"), "total_sum");
  assert.equal(ghostText("a\nb"), "a ⏎ b");
  assert.equal(ghostText("x".repeat(200), 10), "xxxxxxxxx…");
});
