// Runs inside the VS Code extension host: drives the instant-edit extension through the scenario
// of tests/editors/test_vscode.py and writes what happened to $IE_RESULT (JSON). Never throws: a failure is
// written as {"failure": ...} so the test reports it instead of waiting for its timeout.
const fs = require("fs");
const vscode = require("vscode");

const env = process.env;
const STEP_MS = Number(env.IE_STEP_MS || 40000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = await cond();
    if (value) {
      return value;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

function lineSelection(doc, first, last) {
  return new vscode.Selection(first - 1, 0, last - 1, doc.lineAt(last - 1).text.length);
}

async function codeAction(doc, editor, out) {
  editor.selection = lineSelection(doc, 1, 2);
  const before = doc.getText();
  // The light bulb's list; resolving the first item runs the model (codeAction/resolve).
  const actions = await vscode.commands.executeCommand(
    "vscode.executeCodeActionProvider", doc.uri, editor.selection, "refactor.rewrite", 1);
  const ours = actions.filter((a) => a.kind && a.kind.value.startsWith("refactor.rewrite"));
  const first = ours[0];
  let applied = false;
  if (first && first.edit) {
    applied = await vscode.workspace.applyEdit(first.edit);
  }
  if (first && first.command) {
    await vscode.commands.executeCommand(first.command.command, ...(first.command.arguments || []));
  }
  out.steps.code_action = {
    titles: ours.map((a) => a.title), resolved: first ? first.title : null, has_edit: Boolean(first && first.edit),
    applied, before, after: doc.getText(),
  };
}

async function command(doc, editor, out, name, id, first, last, arg) {
  editor.selection = lineSelection(doc, first, last);
  const before = doc.getText();
  const api = vscode.extensions.getExtension("instant-edit.instant-edit").exports;
  const drafts = api.draftsSeen();
  const result = await vscode.commands.executeCommand(id, arg);
  out.steps[name] = { result: result || null, before, after: doc.getText(), drafts: api.draftsSeen() - drafts };
}

async function inline(doc, editor, out) {
  // The last line with the sample's text: earlier edits may have moved it.
  const line = doc.getText().split(/\r?\n/).lastIndexOf(env.IE_INLINE_TEXT);
  if (line < 0) {
    throw new Error(`no line reads ${JSON.stringify(env.IE_INLINE_TEXT)}`);
  }
  const end = doc.lineAt(line).range.end;
  editor.selection = new vscode.Selection(end, end);
  const before = doc.getText();
  await vscode.window.showTextDocument(doc, { preserveFocus: false });
  // Ghost text cannot be read from an extension: trigger, then commit until the document changes.
  let tries = 0;
  const changed = await waitFor(async () => {
    if (tries++ % 20 === 0) {
      await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
    }
    await vscode.commands.executeCommand("editor.action.inlineSuggest.commit");
    return doc.getText() !== before;
  }, STEP_MS, "an inline completion to be shown and accepted").catch((e) => String(e));
  // When nothing was accepted, ask the server directly: an empty answer is the model's, not the client's fault.
  let serverItems = null;
  if (changed !== true) {
    const client = vscode.extensions.getExtension("instant-edit.instant-edit").exports.client();
    const answer = await client.sendRequest("textDocument/inlineCompletion", {
      textDocument: { uri: doc.uri.toString() }, position: { line, character: end.character },
      context: { triggerKind: 1 },
    });
    serverItems = (Array.isArray(answer) ? answer : (answer && answer.items) || []).length;
  }
  out.steps.inline = { accepted: changed === true, error: changed === true ? null : changed, before,
                       after: doc.getText(), line: line + 1, server_items: serverItems };
}

// Last step: a server path that does not exist must give a notification naming the fix.
async function missingServer(api, out) {
  const config = vscode.workspace.getConfiguration("instantEdit");
  const before = api.notices().length;
  await config.update("server.path", "/nonexistent/instant-edit", vscode.ConfigurationTarget.Global);
  const notice = await waitFor(() => api.notices()[before], 20000, "the missing-server notification")
    .catch((e) => String(e));
  out.steps.missing_server = { notice, client_gone: api.client() === undefined };
}

async function scenario() {
  const out = { steps: {} };
  const ext = vscode.extensions.getExtension("instant-edit.instant-edit");
  if (!ext) {
    throw new Error("the instant-edit extension is not installed");
  }
  const api = await ext.activate();
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(env.IE_FILE));
  const editor = await vscode.window.showTextDocument(doc);
  await waitFor(() => api.client() && api.status() && api.status().state === "ready", 90000, "the model to load");
  out.status = api.status();
  await codeAction(doc, editor, out);
  const [rf, rl] = env.IE_REWRITE_RANGE.split(",").map(Number);
  await command(doc, editor, out, "rewrite", "instant-edit.rewrite", rf, rl, env.IE_INSTRUCTION);
  await inline(doc, editor, out);
  out.saved = await doc.save();
  out.final = doc.getText();
  await missingServer(api, out);
  return out;
}

function write(data) {
  fs.writeFileSync(env.IE_RESULT + ".tmp", JSON.stringify(data, null, 1));
  fs.renameSync(env.IE_RESULT + ".tmp", env.IE_RESULT); // the test polls for the file: appear whole
}

exports.activate = function activate() {
  if (!env.IE_RESULT) {
    return; // installed outside the test: do nothing
  }
  scenario().then(write, (e) => write({ failure: String((e && e.stack) || e) }));
};

exports.deactivate = function deactivate() {};
