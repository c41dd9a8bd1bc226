/** Entry point: wires settings, the server, commands, drafts, next edits and the status bar together. */
import * as vscode from "vscode";
import { LanguageClient } from "vscode-languageclient/node";
import { registerActions } from "./common/commands";
import { DraftView } from "./common/draft";
import { NextEdits, ShownEdit } from "./common/nextEdit";
import {
  CONFIDENCE_NOTIFICATION, CommandResult, ConfidenceParams, DRAFT_NOTIFICATION, DraftParams, InlineRecord,
  STATUS_NOTIFICATION, StatusParams,
} from "./common/protocol";
import { startServer } from "./common/server";
import { ExtensionSettings, initializationOptions, needsRestart, readSettings } from "./common/settings";
import { StatusBar } from "./common/statusBar";

/** What activate() returns: read by the end-to-end test through `extension.exports`. */
export interface InstantEditApi {
  client(): LanguageClient | undefined;
  status(): StatusParams | undefined;
  draftsSeen(): number;
  lastResult(): CommandResult | undefined;
  notices(): string[];
  /** The inline completion answers VS Code got, oldest first (the last 50). */
  inlineAnswers(): InlineRecord[];
  /** The instantEdit/confidence notifications, oldest first (the last 50). */
  confidences(): ConfidenceParams[];
  /** The status bar item's text, e.g. "$(check) instant-edit: default · cpu · completion 0.42 (cache)". */
  statusText(): string;
  /** The next-edit suggestions shown now, best first (empty when none is shown). */
  nextEdits(): ShownEdit[];
}

const KEEP = 50;

function keep<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > KEEP) {
    list.splice(0, list.length - KEEP);
  }
}

function currentSettings(): ExtensionSettings {
  const config = vscode.workspace.getConfiguration("instantEdit");
  return readSettings((key, fallback) => config.get(key, fallback));
}

export async function activate(context: vscode.ExtensionContext): Promise<InstantEditApi> {
  const output = vscode.window.createOutputChannel("instant-edit", { log: true });
  const statusBar = new StatusBar();
  let settings = currentSettings();
  const drafts = new DraftView(() => settings.showDraft);
  let client: LanguageClient | undefined;
  let lastResult: CommandResult | undefined;
  const notices: string[] = [];
  const inlineAnswers: InlineRecord[] = [];
  const confidences: ConfidenceParams[] = [];
  const nextEdits = new NextEdits(() => client, () => settings.nextEditPauseMs, (m) => output.appendLine(m));

  const start = async () => {
    client = await startServer(settings, {
      output,
      inlineEnabled: () => settings.inlineCompletion,
      onStopped: () => statusBar.update({ state: "error", message: "the server stopped" }),
      onNotice: (message) => notices.push(message),
      onInline: (record) => keep(inlineAnswers, record),
      beforeStart: (c) => {
        c.onNotification(DRAFT_NOTIFICATION, (p: DraftParams) => drafts.show(p));
        c.onNotification(STATUS_NOTIFICATION, (p: StatusParams) => statusBar.update(p));
        c.onNotification(CONFIDENCE_NOTIFICATION, (p: ConfidenceParams) => {
          keep(confidences, p);
          statusBar.completion(p);
        });
      },
    });
  };
  const restart = async () => {
    const old = client;
    client = undefined;
    nextEdits.dismiss();
    statusBar.update(undefined);
    await old?.stop().catch((e) => output.appendLine(`stopping the server: ${e}`));
    await start();
  };

  context.subscriptions.push(
    output, statusBar, drafts, nextEdits,
    ...registerActions({ client: () => client, busy: (label) => statusBar.busy(label), record: (r) => { lastResult = r; } }),
    vscode.commands.registerCommand("instant-edit.restart", restart),
    vscode.commands.registerCommand("instant-edit.showOutput", () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration("instantEdit")) {
        return;
      }
      const before = settings;
      settings = currentSettings();
      if (needsRestart(before, settings)) {
        void restart();
      } else {
        void client?.sendNotification("workspace/didChangeConfiguration", { settings: initializationOptions(settings) });
      }
    }),
    { dispose: () => void client?.stop() },
  );
  await start();
  return {
    client: () => client,
    status: () => statusBar.last,
    draftsSeen: () => drafts.seen,
    lastResult: () => lastResult,
    notices: () => [...notices],
    inlineAnswers: () => [...inlineAnswers],
    confidences: () => [...confidences],
    statusText: () => statusBar.shown,
    nextEdits: () => nextEdits.shown(),
  };
}

export function deactivate(): Thenable<void> | undefined {
  return undefined; // the client is stopped through context.subscriptions
}
