/** The extension's settings and the server's initializationOptions built from them (no vscode import: unit-tested). */

export interface ExtensionSettings {
  serverPath: string;
  serverArgs: string[];
  model: string | null;
  device: string;
  maxSteps: number;
  threshold: number;
  contextTokens: number;
  inlineCompletion: boolean;
  showDraft: boolean;
  /** Client side: how long the document must stay unchanged before next edits are asked for (ms). */
  nextEditPauseMs: number;
  /** Server side: a next edit is suggested when the model prefers it by this many nats (may be negative). */
  nextEditMargin: number;
  /** Server side (the gates): least confidence of a Regenerate edit and of a typing-triggered completion (0: off). */
  regenerateFloor: number;
  completionFloor: number;
  /** Server side: Repair reopens a token only when the model rates it this many nats below its best alternative. */
  repairMargin: number;
  /** Server side: Repair corrects misspelt words when the model prefers the fix by `spellingMargin` nats. */
  repairSpelling: boolean;
  spellingMargin: number;
}

/** What the server reads from initializationOptions and workspace/didChangeConfiguration (camelCase). */
export interface InitializationOptions {
  model: string | null;
  device: string;
  threshold: number;
  maxSteps: number;
  contextTokens: number;
  inlineCompletion: boolean;
  nextEditMargin: number;
  regenerateFloor: number;
  completionFloor: number;
  repairMargin: number;
  repairSpelling: boolean;
  spellingMargin: number;
}

export const DEFAULTS: ExtensionSettings = {
  serverPath: "instant-edit",
  serverArgs: ["serve"],
  model: null,
  device: "auto",
  maxSteps: 0,
  threshold: 0.9,
  contextTokens: 512,
  inlineCompletion: true,
  showDraft: true,
  nextEditPauseMs: 300,
  nextEditMargin: -8.0,
  regenerateFloor: 0.8,
  completionFloor: 0.6,
  repairMargin: 10.0,
  repairSpelling: true,
  spellingMargin: 6.0,
};

/** A getter such as `vscode.workspace.getConfiguration("instantEdit").get`. */
export type Getter = <T>(key: string, fallback: T) => T;

/** Read every setting through `get`, falling back to the defaults for missing or mistyped values. */
export function readSettings(get: Getter): ExtensionSettings {
  const str = (key: string, d: string) => {
    const v = get<unknown>(key, d);
    return typeof v === "string" && v.trim() !== "" ? v.trim() : d;
  };
  const num = (key: string, d: number) => {
    const v = get<unknown>(key, d);
    return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : d;
  };
  const args = get<unknown>("server.args", DEFAULTS.serverArgs);
  const model = get<unknown>("model", null);
  const inline = get<unknown>("inlineCompletion", true);
  const draft = get<unknown>("showDraft", true);
  const margin = get<unknown>("nextEditMargin", DEFAULTS.nextEditMargin);
  const spelling = get<unknown>("repairSpelling", DEFAULTS.repairSpelling);
  return {
    serverPath: str("server.path", DEFAULTS.serverPath),
    serverArgs: Array.isArray(args) && args.every((a) => typeof a === "string") ? args : DEFAULTS.serverArgs,
    model: typeof model === "string" && model.trim() !== "" ? model.trim() : null,
    device: str("device", DEFAULTS.device),
    maxSteps: Math.floor(num("maxSteps", DEFAULTS.maxSteps)),
    threshold: Math.min(1, num("threshold", DEFAULTS.threshold)),
    contextTokens: Math.floor(num("contextTokens", DEFAULTS.contextTokens)),
    inlineCompletion: typeof inline === "boolean" ? inline : true,
    showDraft: typeof draft === "boolean" ? draft : true,
    nextEditPauseMs: num("nextEdit.pauseMs", DEFAULTS.nextEditPauseMs),
    nextEditMargin: typeof margin === "number" && Number.isFinite(margin) ? margin : DEFAULTS.nextEditMargin,
    regenerateFloor: Math.min(1, num("regenerateFloor", DEFAULTS.regenerateFloor)),
    completionFloor: Math.min(1, num("completionFloor", DEFAULTS.completionFloor)),
    repairMargin: num("repairMargin", DEFAULTS.repairMargin),
    repairSpelling: typeof spelling === "boolean" ? spelling : DEFAULTS.repairSpelling,
    spellingMargin: num("spellingMargin", DEFAULTS.spellingMargin),
  };
}

export function initializationOptions(s: ExtensionSettings): InitializationOptions {
  return {
    model: s.model,
    device: s.device,
    threshold: s.threshold,
    maxSteps: s.maxSteps,
    contextTokens: s.contextTokens,
    inlineCompletion: s.inlineCompletion,
    nextEditMargin: s.nextEditMargin,
    regenerateFloor: s.regenerateFloor,
    completionFloor: s.completionFloor,
    repairMargin: s.repairMargin,
    repairSpelling: s.repairSpelling,
    spellingMargin: s.spellingMargin,
  };
}

/** Settings whose change needs a new server process (the rest go over workspace/didChangeConfiguration). */
export function needsRestart(before: ExtensionSettings, after: ExtensionSettings): boolean {
  return before.serverPath !== after.serverPath || before.serverArgs.join("\0") !== after.serverArgs.join("\0");
}
