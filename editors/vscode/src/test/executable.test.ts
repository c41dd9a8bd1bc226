import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { missingServerMessage, resolveExecutable, serverStoppedMessage } from "../common/executable";

function tempDirWith(name: string, mode: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ie-exe-"));
  const file = path.join(dir, name);
  fs.writeFileSync(file, "#!/bin/sh\n");
  fs.chmodSync(file, mode);
  return dir;
}

test("finds an executable on PATH, skipping empty entries", () => {
  const dir = tempDirWith("instant-edit", 0o755);
  const found = resolveExecutable("instant-edit", ["", "/nonexistent", dir].join(path.delimiter), undefined, "linux");
  assert.equal(found, path.join(dir, "instant-edit"));
});

test("a file without the execute bit does not count", () => {
  const dir = tempDirWith("instant-edit", 0o644);
  assert.equal(resolveExecutable("instant-edit", dir, undefined, "linux"), undefined);
});

test("a path with a separator is resolved against the workspace, not PATH", () => {
  const dir = tempDirWith("instant-edit", 0o755);
  fs.mkdirSync(path.join(dir, ".venv/bin"), { recursive: true });
  fs.renameSync(path.join(dir, "instant-edit"), path.join(dir, ".venv/bin/instant-edit"));
  assert.equal(resolveExecutable(".venv/bin/instant-edit", "", dir, "linux"), path.join(dir, ".venv/bin/instant-edit"));
  assert.equal(resolveExecutable("bin/instant-edit", dir, dir, "linux"), undefined);
});

test("messages name the command and the fix", () => {
  const missing = missingServerMessage("ie-missing");
  assert.match(missing, /"ie-missing" was not found/);
  assert.match(missing, /pip install instant-edit/);
  assert.match(missing, /instantEdit\.server\.path/);
  assert.match(serverStoppedMessage("instant-edit", 2), /restarted 2 times/);
  assert.doesNotMatch(serverStoppedMessage("instant-edit", 0), /restarted/);
});
