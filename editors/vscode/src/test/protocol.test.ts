import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ACTIONS, LANGUAGES, commandArguments, confidenceText, draftSummary, statusText, toCommandResult,
} from "../common/protocol";

const range = { start: { line: 1, character: 0 }, end: { line: 2, character: 4 } };

test("command arguments are [{uri, range, ...extra}]", () => {
  assert.deepEqual(commandArguments("file:///a.py", range), [{ uri: "file:///a.py", range }]);
  assert.deepEqual(commandArguments("file:///a.py", range, { instruction: "use map" }),
    [{ uri: "file:///a.py", range, instruction: "use map" }]);
});

test("client command ids differ from the server's, which the language client registers itself", () => {
  for (const [client, server] of Object.entries(ACTIONS)) {
    assert.notEqual(client, server);
    assert.match(server, /^instantEdit\.(regenerate|repair|fill|rewrite|translate)$/);
  }
  assert.equal(Object.keys(ACTIONS).length, 5);
});

test("a well-formed answer is kept; a malformed one becomes a flagged failure", () => {
  assert.deepEqual(toCommandResult({ applied: true, message: "ok", flagged: false }),
    { applied: true, message: "ok", flagged: false });
  assert.deepEqual(toCommandResult({ applied: false }), { applied: false, message: "", flagged: false });
  const bad = toCommandResult(null);
  assert.equal(bad.applied, false);
  assert.equal(bad.flagged, true);
  assert.match(bad.message, /unexpected answer/);
});

test("status text shows state, model and device", () => {
  assert.equal(statusText({ state: "ready", model: "default", device: "cpu" }), "$(check) instant-edit: default · cpu");
  assert.match(statusText({ state: "loading", model: "default" }), /sync~spin.*loading default/);
  assert.match(statusText({ state: "error", message: "no weights" }), /error/);
  assert.match(statusText(undefined), /circle-slash/);
});

test("draft summary is one line, cut to the width", () => {
  const s = draftSummary("def f(x):\n    return ░░░ + 1\n", 3, 20);
  assert.ok(!s.includes("\n"));
  assert.match(s, /step 3: def f\(x\): return/);
  assert.ok(s.endsWith("…"));
  assert.ok(LANGUAGES.includes("python") && LANGUAGES.includes("rust"));
});

test("a refused answer keeps why, the confidence and the apply-anyway arguments", () => {
  const anyway = { uri: "file:///a.py", version: 3, id: "w0", title: "Apply anyway (does not parse)" };
  const r = toCommandResult({ applied: false, message: "not applied", flagged: true, refused: "syntax",
                              confidence: 0.25, applyAnyway: anyway });
  assert.deepEqual(r, { applied: false, message: "not applied", flagged: true, refused: "syntax", confidence: 0.25,
                        applyAnyway: anyway });
  const plain = toCommandResult({ applied: true, message: "ok", flagged: false, refused: null, applyAnyway: null });
  assert.equal(plain.refused, undefined);
  assert.equal(plain.applyAnyway, undefined);
});

test("completion confidence text for the status bar", () => {
  const base = { uri: "file:///a.py", explicit: true, message: "", offered: true };
  assert.equal(confidenceText({ ...base, confidence: 0.4213, refused: null }), "completion 0.42");
  assert.equal(confidenceText({ ...base, confidence: 0.1, refused: "confidence", offered: false }),
    "completion withheld (confidence, 0.10)");
  assert.equal(confidenceText(undefined), "");
});

test("the completion's source follows its confidence; an old server's notification has none", () => {
  const base = { uri: "file:///a.py", explicit: false, message: "", offered: true, refused: null };
  assert.equal(confidenceText({ ...base, confidence: 0.5, source: "typed" }), "completion 0.50 (typed)");
  assert.equal(confidenceText({ ...base, confidence: 0.9, source: "prefetch" }), "completion 0.90 (prefetch)");
  assert.equal(confidenceText({ ...base, confidence: 0.9, source: null }), "completion 0.90");
  assert.equal(confidenceText({ ...base, confidence: 0.2, refused: "syntax", offered: false, source: "model" }),
    "completion withheld (syntax, 0.20, model)");
});
