import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { ACTIONS } from "../common/protocol";
import { DEFAULTS } from "../common/settings";

// out/test/ -> the extension folder
const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
const contributes = manifest.contributes;

test("every action command is contributed, in the context menu and the palette", () => {
  const commands = new Set(contributes.commands.map((c: { command: string }) => c.command));
  const menu = new Set(contributes.menus["instant-edit.context"].map((m: { command: string }) => m.command));
  const palette = new Set(contributes.menus.commandPalette.map((m: { command: string }) => m.command));
  for (const id of Object.keys(ACTIONS)) {
    assert.ok(commands.has(id) && menu.has(id) && palette.has(id), id);
  }
  assert.ok(commands.has("instant-edit.restart"));
});

test("every setting has a description, and the defaults match the code's", () => {
  const props = contributes.configuration.properties;
  for (const [key, prop] of Object.entries<Record<string, unknown>>(props)) {
    assert.ok(prop.description || prop.markdownDescription, `${key} has no description`);
  }
  assert.equal(props["instantEdit.server.path"].default, DEFAULTS.serverPath);
  assert.deepEqual(props["instantEdit.server.args"].default, DEFAULTS.serverArgs);
  assert.equal(props["instantEdit.threshold"].default, DEFAULTS.threshold);
  assert.equal(props["instantEdit.maxSteps"].default, DEFAULTS.maxSteps);
  assert.equal(props["instantEdit.inlineCompletion"].default, DEFAULTS.inlineCompletion);
  assert.equal(props["instantEdit.device"].default, DEFAULTS.device);
  assert.equal(props["instantEdit.nextEdit.pauseMs"].default, DEFAULTS.nextEditPauseMs);
  assert.equal(props["instantEdit.nextEditMargin"].default, DEFAULTS.nextEditMargin);
  for (const key of ["regenerateFloor", "completionFloor", "repairMargin", "repairSpelling", "spellingMargin"] as const) {
    assert.equal(props[`instantEdit.${key}`]?.default, DEFAULTS[key], key);
  }
});

test("the gate floors range over 0..1 and the margins start at 0, as the server reads them", () => {
  const props = contributes.configuration.properties;
  for (const key of ["regenerateFloor", "completionFloor"]) {
    assert.equal(props[`instantEdit.${key}`].type, "number", key);
    assert.equal(props[`instantEdit.${key}`].minimum, 0, key);
    assert.equal(props[`instantEdit.${key}`].maximum, 1, key);
  }
  for (const key of ["repairMargin", "spellingMargin"]) {
    assert.equal(props[`instantEdit.${key}`].type, "number", key);
    assert.equal(props[`instantEdit.${key}`].minimum, 0, key);
  }
  assert.equal(props["instantEdit.repairSpelling"].type, "boolean");
});

test("next edits: the commands are contributed; Tab and Escape act only while a suggestion is shown", () => {
  const commands = new Set(contributes.commands.map((c: { command: string }) => c.command));
  for (const id of ["request", "jumpOrAccept", "dismiss"]) {
    assert.ok(commands.has(`instant-edit.nextEdit.${id}`), id);
  }
  const bindings = new Map(contributes.keybindings.map((k: { command: string }) => [k.command, k]));
  const tab = bindings.get("instant-edit.nextEdit.jumpOrAccept") as { key: string; when: string };
  assert.equal(tab.key, "tab");
  for (const term of ["editorTextFocus", "instantEdit.nextEditShown", "!inlineSuggestionVisible", "!suggestWidgetVisible"]) {
    assert.ok(tab.when.split(" && ").includes(term), term);
  }
  const escape = bindings.get("instant-edit.nextEdit.dismiss") as { key: string; when: string };
  assert.equal(escape.key, "escape");
  assert.ok(escape.when.split(" && ").includes("instantEdit.nextEditShown"));
});
