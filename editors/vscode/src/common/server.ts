/** Starting and stopping the language server process through vscode-languageclient. */
import * as vscode from "vscode";
import {
  CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, ServerOptions,
} from "vscode-languageclient/node";
import { missingServerMessage, resolveExecutable, serverStoppedMessage } from "./executable";
import { InlineRecord } from "./protocol";
import { ExtensionSettings, initializationOptions } from "./settings";

export interface ServerHooks {
  output: vscode.LogOutputChannel;
  /** Registers notification handlers: called before start, so nothing sent during startup is missed. */
  beforeStart: (client: LanguageClient) => void;
  /** Read at request time, so turning inline completion off needs no restart. */
  inlineEnabled: () => boolean;
  onStopped: () => void;
  /** Every error shown to the user about the server (the end-to-end test reads them). */
  onNotice: (message: string) => void;
  /** Every inline completion answer shown to VS Code (the end-to-end test reads them). */
  onInline?: (record: InlineRecord) => void;
}

/** A JSON-safe copy of an inline completion answer as VS Code gets it. */
function inlineRecord(
  document: vscode.TextDocument, position: vscode.Position, context: vscode.InlineCompletionContext,
  result: vscode.InlineCompletionItem[] | vscode.InlineCompletionList | null | undefined,
): InlineRecord {
  const items = (Array.isArray(result) ? result : result?.items ?? []).map((item) => {
    const r = item.range;
    return {
      insertText: typeof item.insertText === "string" ? item.insertText : item.insertText.value,
      range: r ? { start: { line: r.start.line, character: r.start.character },
                   end: { line: r.end.line, character: r.end.character } } : null,
    };
  });
  return {
    uri: document.uri.toString(), position: { line: position.line, character: position.character },
    explicit: context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke, items,
  };
}

function workspaceDir(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** Tell the user the server is missing, with buttons for the fix. */
async function reportMissing(command: string, hooks: ServerHooks): Promise<void> {
  hooks.onNotice(missingServerMessage(command));
  const pick = await vscode.window.showErrorMessage(missingServerMessage(command), "Open Settings", "Retry");
  if (pick === "Open Settings") {
    await vscode.commands.executeCommand("workbench.action.openSettings", "instantEdit.server.path");
  } else if (pick === "Retry") {
    await vscode.commands.executeCommand("instant-edit.restart");
  }
}

function clientOptions(settings: ExtensionSettings, hooks: ServerHooks): LanguageClientOptions {
  let restarts = 0;
  return {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    outputChannel: hooks.output,
    initializationOptions: initializationOptions(settings),
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue }),
      closed: () => {
        hooks.onStopped();
        const message = serverStoppedMessage(settings.serverPath, restarts);
        hooks.onNotice(message);
        void vscode.window.showErrorMessage(message, "Restart", "Show Output").then((pick) => {
          if (pick === "Restart") {
            restarts += 1;
            void vscode.commands.executeCommand("instant-edit.restart");
          } else if (pick === "Show Output") {
            hooks.output.show(true);
          }
        });
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
    middleware: {
      // Items are plain text (never snippets) with the server's range, so VS Code's partial accept
      // (editor.action.inlineSuggest.acceptNextWord / acceptNextLine) works on them as on whole ones.
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        if (!hooks.inlineEnabled()) {
          return undefined;
        }
        const result = await next(document, position, context, token);
        hooks.onInline?.(inlineRecord(document, position, context, result));
        return result;
      },
    },
  };
}

/** A started client, or undefined (after telling the user why) when the executable is missing. */
export async function startServer(settings: ExtensionSettings, hooks: ServerHooks): Promise<LanguageClient | undefined> {
  const command = resolveExecutable(settings.serverPath, process.env.PATH, workspaceDir());
  if (!command) {
    hooks.output.appendLine(missingServerMessage(settings.serverPath));
    void reportMissing(settings.serverPath, hooks);
    return undefined;
  }
  // No `transport`: TransportKind.stdio would append "--stdio" to the arguments, which the server rejects.
  const run = { command, args: settings.serverArgs, options: { cwd: workspaceDir() } };
  const serverOptions: ServerOptions = { run, debug: run };
  const client = new LanguageClient("instantEdit", "instant-edit", serverOptions, clientOptions(settings, hooks));
  hooks.beforeStart(client);
  hooks.output.appendLine(`starting ${command} ${settings.serverArgs.join(" ")}`);
  try {
    await client.start();
  } catch (e) {
    hooks.output.appendLine(`the server failed to start: ${e}`);
    hooks.onNotice(serverStoppedMessage(settings.serverPath, 0));
    void vscode.window.showErrorMessage(serverStoppedMessage(settings.serverPath, 0), "Show Output").then((pick) => {
      if (pick) {
        hooks.output.show(true);
      }
    });
    return undefined;
  }
  return client;
}
