import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULTS, Getter, initializationOptions, needsRestart, readSettings } from "../common/settings";

const getterOf = (values: Record<string, unknown>): Getter =>
  (<T>(key: string, fallback: T) => (key in values ? values[key] : fallback) as T);

test("defaults when nothing is set", () => {
  assert.deepEqual(readSettings(getterOf({})), DEFAULTS);
});

test("initializationOptions carries the server's camelCase keys only", () => {
  const s = readSettings(getterOf({ model: "/ckpt", device: "cpu", maxSteps: 12, threshold: 0.5, inlineCompletion: false }));
  assert.deepEqual(initializationOptions(s), {
    model: "/ckpt", device: "cpu", threshold: 0.5, maxSteps: 12, contextTokens: 512, inlineCompletion: false,
    nextEditMargin: -8, regenerateFloor: 0.8, completionFloor: 0.6, repairMargin: 10, repairSpelling: true,
    spellingMargin: 6,
  });
});

test("the gate settings default to the server's and go to it under its camelCase keys", () => {
  const d = readSettings(getterOf({}));
  assert.equal(d.regenerateFloor, 0.8);
  assert.equal(d.completionFloor, 0.6);
  assert.equal(d.repairMargin, 10);
  assert.equal(d.repairSpelling, true);
  assert.equal(d.spellingMargin, 6);
  const s = readSettings(getterOf({
    regenerateFloor: 0, completionFloor: 0.75, repairMargin: 4.5, repairSpelling: false, spellingMargin: 2,
  }));
  const o = initializationOptions(s);
  assert.equal(o.regenerateFloor, 0);
  assert.equal(o.completionFloor, 0.75);
  assert.equal(o.repairMargin, 4.5);
  assert.equal(o.repairSpelling, false);
  assert.equal(o.spellingMargin, 2);
});

test("mistyped or out-of-range gate settings fall back to the defaults; a floor above 1 is 1", () => {
  const s = readSettings(getterOf({
    regenerateFloor: -0.1, completionFloor: "high", repairMargin: -3, repairSpelling: "no", spellingMargin: Infinity,
  }));
  assert.equal(s.regenerateFloor, DEFAULTS.regenerateFloor);
  assert.equal(s.completionFloor, DEFAULTS.completionFloor);
  assert.equal(s.repairMargin, DEFAULTS.repairMargin);
  assert.equal(s.repairSpelling, DEFAULTS.repairSpelling);
  assert.equal(s.spellingMargin, DEFAULTS.spellingMargin);
  const high = readSettings(getterOf({ regenerateFloor: 2, completionFloor: 1.5, repairMargin: null, spellingMargin: "6" }));
  assert.equal(high.regenerateFloor, 1);
  assert.equal(high.completionFloor, 1);
  assert.equal(high.repairMargin, DEFAULTS.repairMargin);
  assert.equal(high.spellingMargin, DEFAULTS.spellingMargin);
});

test("the next-edit margin may be negative and goes to the server; the pause stays in the client", () => {
  const s = readSettings(getterOf({ nextEditMargin: -100, "nextEdit.pauseMs": 50 }));
  assert.equal(s.nextEditMargin, -100);
  assert.equal(s.nextEditPauseMs, 50);
  assert.equal(initializationOptions(s).nextEditMargin, -100);
  assert.equal("nextEditPauseMs" in initializationOptions(s), false);
  const bad = readSettings(getterOf({ nextEditMargin: "low", "nextEdit.pauseMs": -5 }));
  assert.equal(bad.nextEditMargin, DEFAULTS.nextEditMargin);
  assert.equal(bad.nextEditPauseMs, DEFAULTS.nextEditPauseMs);
});

test("mistyped or out-of-range values fall back to the defaults", () => {
  const s = readSettings(getterOf({
    "server.path": "  ", "server.args": ["serve", 3], model: "", device: 7, maxSteps: -1, threshold: 4,
    contextTokens: "many", inlineCompletion: "yes",
  }));
  assert.equal(s.serverPath, "instant-edit");
  assert.deepEqual(s.serverArgs, ["serve"]);
  assert.equal(s.model, null);
  assert.equal(s.device, "auto");
  assert.equal(s.maxSteps, 0);
  assert.equal(s.threshold, 1);
  assert.equal(s.contextTokens, 512);
  assert.equal(s.inlineCompletion, true);
});

test("only the server command and arguments need a restart", () => {
  const base = readSettings(getterOf({}));
  assert.equal(needsRestart(base, { ...base, threshold: 0.3, inlineCompletion: false }), false);
  assert.equal(needsRestart(base, { ...base, regenerateFloor: 0, repairSpelling: false, spellingMargin: 3 }), false);
  assert.equal(needsRestart(base, { ...base, serverPath: "/venv/bin/instant-edit" }), true);
  assert.equal(needsRestart(base, { ...base, serverArgs: ["serve", "--device", "cpu"] }), true);
});
