// Runs inside the VS Code extension host: drives the instant-edit extension through the scenario
// of tests/editors/test_vscode.py and writes what happened to $IE_RESULT (JSON). Never throws: a failure is
// written as {"failure": ...} so the test reports it instead of waiting for its timeout.
const fs = require("fs");
const vscode = require("vscode");

const env = process.env;
const STEP_MS = Number(env.IE_STEP_MS || 40000);
const { sleep, waitFor, openWhenReady } = require("./wait");

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

// The explicit inline answer VS Code got for `pos` after `since` answers (the extension records every answer).
async function explicitAnswer(api, pos, since, ms, what) {
  await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
  return waitFor(() => api.inlineAnswers().slice(since).find((a) => a.explicit && a.position.line === pos.line
    && a.position.character === pos.character), ms, what);
}

// Run `command` until the document changes (the ghost text may render a moment after the answer came).
async function untilChanged(doc, command, ms) {
  const before = doc.getText();
  return waitFor(async () => {
    await vscode.commands.executeCommand(command);
    return doc.getText() !== before;
  }, ms, `${command} to change the document`).catch((e) => String(e));
}

async function inline(doc, editor, out, api) {
  // The last line with the sample's text: earlier edits may have moved it.
  const line = doc.getText().split(/\r?\n/).lastIndexOf(env.IE_INLINE_TEXT);
  if (line < 0) {
    throw new Error(`no line reads ${JSON.stringify(env.IE_INLINE_TEXT)}`);
  }
  const end = doc.lineAt(line).range.end;
  editor.selection = new vscode.Selection(end, end);
  const before = doc.getText();
  await vscode.window.showTextDocument(doc, { preserveFocus: false });
  // Ghost text cannot be read from an extension: the answer VS Code got tells whether there is any; then
  // commit until the document changes.
  const answer = await explicitAnswer(api, end, api.inlineAnswers().length, STEP_MS, "an inline answer")
    .catch((e) => String(e));
  const serverItems = typeof answer === "string" ? null : answer.items.length;
  const changed = serverItems ? await untilChanged(doc, "editor.action.inlineSuggest.commit", 10000) : answer;
  out.steps.inline = { accepted: changed === true, error: changed === true ? null : String(changed), before,
                       after: doc.getText(), line: line + 1, server_items: serverItems };
}

// --- the second file: empty lines, partial accept, typing through -------------------------------------------
async function setText(editor, text) {
  const doc = editor.document;
  const all = new vscode.Range(0, 0, doc.lineCount, 0);
  await editor.edit((e) => e.replace(all, text));
}

// One step on the second file: `lines` replaces its text, the cursor goes to (row, col), the answer is asked for
// explicitly, then `act(step)` runs; the file's text is put back afterwards.
async function inlineStep(api, editor, out, name, lines, row, col, act) {
  const doc = editor.document;
  const original = doc.getText();
  await setText(editor, lines.join("\n"));
  const pos = new vscode.Position(row, col);
  editor.selection = new vscode.Selection(pos, pos);
  const step = { before: doc.getText(), row, col };
  try {
    const answer = await explicitAnswer(api, pos, api.inlineAnswers().length, STEP_MS, `an inline answer (${name})`);
    step.items = answer.items;
    step.why_not = answer.items.length ? null : "no suggestion";
    step.confidence = api.confidences().slice(-1)[0] || null;
    if (answer.items.length) {
      await act(step, answer.items[0]);
    }
  } catch (e) {
    step.why_not = String(e);
  }
  step.after = doc.getText();
  out.steps[name] = step;
  await setText(editor, original);
}

async function secondFile(api, out) {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(env.IE_INLINE_FILE));
  const editor = await vscode.window.showTextDocument(doc, { preserveFocus: false });
  const base = doc.getText().split("\n");
  const commit = async (step) => {
    step.committed = await untilChanged(doc, "editor.action.inlineSuggest.commit", 10000);
  };
  // Empty lines inside a function body: empty at column 0, whitespace-only at column 0 (the answer's range
  // covers the whitespace) and after the indentation.
  for (const [name, row, col] of JSON.parse(env.IE_EMPTY_STEPS)) {
    const lines = [...base.slice(0, row), name === "empty_col0" ? "" : env.IE_INDENT, ...base.slice(row)];
    await inlineStep(api, editor, out, name, lines, row, col, commit);
  }
  const [prow, ptext] = JSON.parse(env.IE_PARTIAL_LINE);
  const partialLines = [...base.slice(0, prow), ptext, ...base.slice(prow + 1)];
  // Partial accept: the next word only, then the rest (which must still be shown) with commit.
  await inlineStep(api, editor, out, "partial", partialLines, prow, ptext.length, async (step) => {
    step.word = await untilChanged(doc, "editor.action.inlineSuggest.acceptNextWord", 10000);
    step.after_word = doc.lineAt(prow).text;
    step.rest = await untilChanged(doc, "editor.action.inlineSuggest.commit", 10000);
    step.after_rest = doc.lineAt(prow).text;
  });
  // Typing through: type the suggestion's first character; VS Code keeps the rest shown and asks again, and the
  // server answers from the suggestion on screen (source "typed"), not from the model.
  await inlineStep(api, editor, out, "typing", partialLines, prow, ptext.length, async (step, item) => {
    const seen = api.confidences().length;
    const asked = api.inlineAnswers().length;
    await vscode.commands.executeCommand("type", { text: item.insertText[0] });
    step.after_type = doc.lineAt(prow).text;
    await sleep(1500); // VS Code asks again after a keystroke; let that answer come
    step.rest = await untilChanged(doc, "editor.action.inlineSuggest.commit", 10000);
    step.after_rest = doc.lineAt(prow).text;
    step.sources = api.confidences().slice(seen).map((c) => (c.source === undefined ? null : c.source));
    step.answers_after_typing = api.inlineAnswers().slice(asked).map((a) => a.items.map((i) => i.insertText));
  });
  out.status_text = api.statusText ? api.statusText() : null;
  await doc.save();
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
  const { api, doc, editor } = await openWhenReady(vscode, env.IE_FILE);
  out.status = api.status();
  await codeAction(doc, editor, out);
  const [rf, rl] = env.IE_REWRITE_RANGE.split(",").map(Number);
  await command(doc, editor, out, "rewrite", "instant-edit.rewrite", rf, rl, env.IE_INSTRUCTION);
  await inline(doc, editor, out, api);
  out.saved = await doc.save();
  out.final = doc.getText();
  await secondFile(api, out);
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
  // IE_SCENARIO=next_edit: the scenario of tests/editors/test_vscode_next_edit.py (next_edit.js) instead.
  const run = env.IE_SCENARIO === "next_edit" ? () => require("./next_edit").scenario(vscode, env) : scenario;
  run().then(write, (e) => write({ failure: String((e && e.stack) || e) }));
};

exports.deactivate = function deactivate() {};
