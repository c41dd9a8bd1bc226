/** The editor commands: each asks the server to run an action on the selection; the server applies the edit. */
import * as vscode from "vscode";
import { LanguageClient } from "vscode-languageclient/node";
import {
  ACTIONS, APPLY_ANYWAY_COMMAND, ClientCommand, CommandResult, LANGUAGES, commandArguments, toCommandResult,
} from "./protocol";

export interface CommandContext {
  client: () => LanguageClient | undefined;
  busy: (label: string | undefined) => void;
  /** The last answer, exposed for the end-to-end test. */
  record: (result: CommandResult) => void;
}

/** The selection, or the current line when nothing is selected. */
function targetRange(editor: vscode.TextEditor): vscode.Range {
  const sel = editor.selection;
  return sel.isEmpty ? editor.document.lineAt(sel.active.line).range : new vscode.Range(sel.start, sel.end);
}

/** The instruction or language for Rewrite / Translate: the given argument, or asked for. */
async function extraFor(id: ClientCommand, given: unknown): Promise<Record<string, string> | undefined> {
  if (id === "instant-edit.rewrite") {
    const instruction = typeof given === "string" ? given : await vscode.window.showInputBox({
      title: "instant-edit: rewrite the selection",
      prompt: "How should the selection change?",
      placeHolder: "e.g. use an f-string",
      ignoreFocusOut: true,
    });
    return instruction ? { instruction } : undefined;
  }
  if (id === "instant-edit.translate") {
    const language = typeof given === "string" ? given : await vscode.window.showQuickPick(LANGUAGES, {
      title: "instant-edit: translate the selection to",
    });
    return language ? { language } : undefined;
  }
  return {};
}

async function runAction(ctx: CommandContext, id: ClientCommand, given: unknown): Promise<CommandResult | undefined> {
  const editor = vscode.window.activeTextEditor;
  const client = ctx.client();
  if (!editor || !client) {
    void vscode.window.showWarningMessage(
      client ? "instant-edit: open a file and select some code first." : "instant-edit: the server is not running.");
    return undefined;
  }
  const extra = await extraFor(id, given);
  if (!extra) {
    return undefined; // the user dismissed the input box or quick pick
  }
  const range = client.code2ProtocolConverter.asRange(targetRange(editor));
  const args = commandArguments(editor.document.uri.toString(), range, extra);
  ctx.busy(ACTIONS[id].replace("instantEdit.", ""));
  try {
    const answer = await client.sendRequest("workspace/executeCommand", { command: ACTIONS[id], arguments: args });
    const result = toCommandResult(answer);
    ctx.record(result);
    if (result.applyAnyway) {
      void offerApplyAnyway(ctx, client, result);
    } else if (result.message) {
      const show = result.flagged || result.refused ? vscode.window.showWarningMessage
        : vscode.window.showInformationMessage;
      void show(result.message);
    }
    return result;
  } catch (e) {
    const result = { applied: false, message: `instant-edit: ${e instanceof Error ? e.message : e}`, flagged: true };
    ctx.record(result);
    void vscode.window.showErrorMessage(result.message);
    return result;
  } finally {
    ctx.busy(undefined);
  }
}

/** A refused edit: say why, and apply it only if the user picks the clearly labelled second action. */
async function offerApplyAnyway(ctx: CommandContext, client: LanguageClient, result: CommandResult): Promise<void> {
  const anyway = result.applyAnyway!;
  const picked = await vscode.window.showWarningMessage(result.message, anyway.title);
  if (picked !== anyway.title) {
    return;
  }
  const { title: _title, ...args } = anyway;
  const answer = await client.sendRequest("workspace/executeCommand", { command: APPLY_ANYWAY_COMMAND, arguments: [args] });
  const forced = toCommandResult(answer);
  ctx.record(forced);
  void vscode.window.showWarningMessage(forced.message);
}

/** Register the five action commands; each returns the server's CommandResult (or undefined when cancelled). */
export function registerActions(ctx: CommandContext): vscode.Disposable[] {
  return (Object.keys(ACTIONS) as ClientCommand[]).map((id) =>
    vscode.commands.registerCommand(id, (given?: unknown) => runAction(ctx, id, given)));
}
