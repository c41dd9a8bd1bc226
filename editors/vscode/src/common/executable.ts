/** Finding the server executable and the message shown when it is missing (no vscode import: unit-tested). */
import * as fs from "node:fs";
import * as path from "node:path";

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The full path of `command`: as given when it contains a separator (relative to `cwd`), else searched on PATH.
 * Undefined when nothing executable is found.
 */
export function resolveExecutable(
  command: string,
  envPath: string | undefined,
  cwd: string | undefined,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  const exts = platform === "win32" ? ["", ".exe", ".cmd", ".bat"] : [""];
  if (command.includes("/") || command.includes("\\")) {
    const full = path.resolve(cwd ?? process.cwd(), command);
    return exts.map((e) => full + e).find(isExecutable);
  }
  const dirs = (envPath ?? "").split(path.delimiter).filter((d) => d !== "");
  for (const dir of dirs) {
    const found = exts.map((e) => path.join(dir, command + e)).find(isExecutable);
    if (found) {
      return found;
    }
  }
  return undefined;
}

/** The notification text for a missing server, naming the fix. */
export function missingServerMessage(command: string): string {
  return (
    `instant-edit: the server command "${command}" was not found. ` +
    `Install it with "pip install instant-edit" (or "pip install -e ." in a checkout), ` +
    `or set "instantEdit.server.path" to the full path of the instant-edit executable.`
  );
}

/** The notification text when the server process stopped. */
export function serverStoppedMessage(command: string, restarts: number): string {
  const again = restarts > 0 ? ` (it was restarted ${restarts} time${restarts === 1 ? "" : "s"})` : "";
  return (
    `instant-edit: the server "${command}" stopped${again}. ` +
    `Check the "instant-edit" output for its error, then restart it.`
  );
}
