// The next-edit scenario of tests/editors/test_vscode_next_edit.py, in two halves that talk through files beside
// $IE_RESULT (`.ask` from the scenario, `.done` back from the browser; each written whole, by rename):
// - inside the extension host (extension.js calls `scenario` when IE_SCENARIO=next_edit): type a rename, wait for
//   the suggestions, jump to the first with the command Tab runs, accept it with a real Tab key, dismiss the next;
// - in plain node (`node next_edit.js URL RESULT SCREENSHOT TIMEOUT_MS`, in place of vscode_browser.js): open
//   code-server in headless Chromium and carry out the asks (a screenshot, a key press) until the result appears.
const fs = require("fs");

const { sleep, waitFor, openWhenReady } = require("./wait");

function writeWhole(path, data) {
  fs.writeFileSync(path + ".tmp", JSON.stringify(data, null, 1));
  fs.renameSync(path + ".tmp", path);
}

function readJson(path) {
  try {
    return JSON.parse(fs.readFileSync(path, "utf8"));
  } catch {
    return undefined; // not there (yet)
  }
}

// --- the extension host's half ----------------------------------------------------------------------------------
let asked = 0;

/** Ask the browser to do something in the page ({action: "screenshot"} or {action: "press", key}); its answer. */
async function ask(resultPath, what) {
  const id = `${process.pid}-${++asked}`;
  writeWhole(`${resultPath}.ask`, { id, ...what });
  return waitFor(() => {
    const done = readJson(`${resultPath}.done`);
    return done && done.id === id ? done : undefined;
  }, 30000, `the browser to ${what.action}`);
}

async function scenario(vscode, env) {
  const stepMs = Number(env.IE_STEP_MS || 120000);
  const out = { steps: {} };
  const { api, doc, editor } = await openWhenReady(vscode, env.IE_FILE);
  out.status = api.status();
  out.before = doc.getText();
  const cursor = () => [editor.selection.active.line, editor.selection.active.character];

  // A rename as a user types it: one keystroke at a time through the `type` command, at the cursor.
  const [row, col] = JSON.parse(env.IE_TYPE_AT);
  editor.selection = new vscode.Selection(row, col, row, col);
  for (const ch of env.IE_TYPE_TEXT) {
    await vscode.commands.executeCommand("type", { text: ch });
    await sleep(60);
  }
  out.typed = doc.getText();
  const typedAt = Date.now();
  const shown = await waitFor(() => api.nextEdits().length > 0 && api.nextEdits(), stepMs, "next-edit suggestions");
  out.steps.shown = { edits: shown, ms: Date.now() - typedAt, text: doc.getText() };
  out.steps.screenshot = await ask(env.IE_RESULT, { action: "screenshot" });

  // Tab, the first time: the command the keybinding runs moves the cursor to the first suggestion.
  await vscode.window.showTextDocument(doc, { preserveFocus: false });
  await vscode.commands.executeCommand("instant-edit.nextEdit.jumpOrAccept");
  out.steps.jump = { cursor: cursor(), text: doc.getText(), shown: api.nextEdits() };

  // Tab, the second time: the real key, pressed in the page; the keybinding's `when` decides what it does.
  const before = doc.getText();
  const press = await ask(env.IE_RESULT, { action: "press", key: "Tab" });
  const changed = await waitFor(() => doc.getText() !== before, 10000, "the Tab key to change the document")
    .catch((e) => String(e));
  await sleep(200);
  out.steps.accept = { press, changed, cursor: cursor(), text: doc.getText(), shown: api.nextEdits() };

  // Dismiss: the suggestions that follow the accepted edit (asked for after the pause), else asked at once.
  const automatic = await waitFor(() => api.nextEdits().length > 0, stepMs, "suggestions after the accept")
    .then(() => true, () => false);
  if (!automatic) {
    await vscode.commands.executeCommand("instant-edit.nextEdit.request");
  }
  const shownBefore = api.nextEdits();
  await vscode.commands.executeCommand("instant-edit.nextEdit.dismiss");
  const right = api.nextEdits();
  await sleep(1000); // nothing comes back without a change
  out.steps.dismiss = { automatic, before: shownBefore, after: right, later: api.nextEdits() };
  out.final = doc.getText();
  return out;
}

// --- the browser's half -----------------------------------------------------------------------------------------
async function carry(page, a, screenshotPath) {
  if (a.action === "screenshot") {
    await page.waitForTimeout(700); // let the decorations render
    await page.screenshot({ path: screenshotPath });
    return { id: a.id, ok: true, path: screenshotPath };
  }
  if (a.action === "press") {
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      return el ? `${el.tagName.toLowerCase()}.${String(el.className).split(" ").join(".")}` : null;
    });
    await page.keyboard.press(a.key);
    return { id: a.id, ok: true, key: a.key, focused };
  }
  return { id: a.id, ok: false, error: `unknown action ${a.action}` };
}

async function browserMain([url, resultPath, screenshotPath, timeoutArg]) {
  const { openWorkbench } = require("../vscode_browser"); // run from the repository, beside vscode_browser.js
  const { page, close } = await openWorkbench(url);
  let shot = false;
  try {
    const end = Date.now() + Number(timeoutArg);
    let last;
    while (!fs.existsSync(resultPath) && Date.now() < end) {
      const a = readJson(`${resultPath}.ask`);
      if (a && a.id !== last) {
        last = a.id;
        const done = await carry(page, a, screenshotPath).catch((e) => ({ id: a.id, ok: false, error: String(e) }));
        shot = shot || (a.action === "screenshot" && done.ok);
        writeWhole(`${resultPath}.done`, done);
      }
      await page.waitForTimeout(100);
    }
    if (!shot) { // the scenario failed before its screenshot: show how the editor ended up
      await page.waitForTimeout(500);
      await page.screenshot({ path: screenshotPath });
    }
    if (!fs.existsSync(resultPath)) {
      throw new Error(`no result from the driver extension within ${timeoutArg} ms (screenshot: ${screenshotPath})`);
    }
  } finally {
    await close();
  }
}

exports.scenario = scenario;

if (require.main === module) {
  browserMain(process.argv.slice(2)).then(() => process.exit(0), (e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
}
