-- Headless Neovim scenario for tests/editors/test_neovim.py: Repair, Rewrite, a code action, inline completion;
-- then, on a second file, inline completion on empty lines, partial accept and typing through a suggestion.
-- Inputs come from environment variables; the outcome is written as JSON to $IE_RESULT. Any error -> :cquit 1.
local scenario = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "nvim_scenario_lib.lua"))
local env = vim.env
local out, sleep, wait, press, lines = scenario.out, scenario.sleep, scenario.wait, scenario.press, scenario.lines

-- Run a user command (a string for vim.cmd) and wait for the server's executeCommand answer.
local function command(name, cmdline)
  local commands = require("instant_edit.commands")
  local draft = require("instant_edit.draft")
  commands.last_result = nil
  local seen, before = draft.seen, lines()
  vim.cmd(cmdline)
  wait(tonumber(env.IE_STEP_MS), function() return commands.last_result ~= nil end, name)
  out.steps[name] = {
    before = before, after = lines(), result = commands.last_result.result,
    error = commands.last_result.err and commands.last_result.err.message or vim.NIL,
    drafts = draft.seen - seen,
    draft_cleared = #vim.api.nvim_buf_get_extmarks(0, draft.ns, 0, -1, {}) == 0,
  }
end

-- Apply the edit the server refused in the previous step, as the user would with :InstantEditApplyAnyway.
local function apply_anyway()
  local commands = require("instant_edit.commands")
  local before, result, err, finished = lines(), nil, nil, false
  commands.apply_anyway(function(r, e) result, err, finished = r, e, true end)
  wait(tonumber(env.IE_STEP_MS), function() return finished end, "instantEdit.applyAnyway")
  out.steps.apply_anyway = { before = before, after = lines(), result = result or vim.NIL,
                             error = err and err.message or vim.NIL }
end

local function code_action()
  local before, chosen, resolved = lines(), nil, nil
  local last = #vim.api.nvim_buf_get_lines(0, 0, 2, true)[2]
  -- The model runs in codeAction/resolve; its completion (the edit applied, or none) ends this step.
  local au = vim.api.nvim_create_autocmd("LspRequest", {
    callback = function(ev)
      local req = ev.data.request
      if req.method == "codeAction/resolve" and req.type ~= "pending" then
        resolved = req.type
      end
    end,
  })
  vim.lsp.buf.code_action({
    apply = true,
    range = { start = { 1, 0 }, ["end"] = { 2, last } },
    filter = function(action)
      chosen = chosen or action.title
      return action.title == chosen
    end,
  })
  wait(tonumber(env.IE_STEP_MS), function() return resolved ~= nil end, "codeAction/resolve to finish")
  vim.api.nvim_del_autocmd(au)
  out.steps.code_action = { title = chosen, resolved = resolved, before = before, after = lines() }
end

local function inline()
  local ie_inline = require("instant_edit.inline")
  local row
  for i, l in ipairs(lines()) do
    if l == env.IE_INLINE_TEXT then row = i end  -- the last line with that text: earlier edits may move it
  end
  if not row then error("no line reads " .. vim.inspect(env.IE_INLINE_TEXT)) end
  local text = vim.api.nvim_buf_get_lines(0, row - 1, row, true)[1]
  vim.api.nvim_win_set_cursor(0, { row, #text })  -- normal mode stops on the last character: ask at the end

  local shown
  local why_not
  ie_inline.trigger({ at = { row - 1, #text }, done = function(ok, why) shown, why_not = ok, why end })
  wait(tonumber(env.IE_STEP_MS), function() return shown ~= nil end, "an inline completion")
  local visible, before = ie_inline.visible(), lines()
  local accepted = ie_inline.accept()
  out.steps.inline_status = require("instant_edit").status()
  out.steps.inline = { shown = shown, why_not = why_not or vim.NIL, visible = visible, accepted = accepted, before = before, after = lines(),
                       cursor = vim.api.nvim_win_get_cursor(0), line = row }
end

-- --- the second file: empty lines, partial accept, typing through ---------------------------------------------
local inline_requests = 0 -- textDocument/inlineCompletion requests sent by the plugin

local function count_requests()
  vim.api.nvim_create_autocmd("LspRequest", {
    callback = function(ev)
      local req = ev.data.request
      if req.method == "textDocument/inlineCompletion" and req.type == "pending" then
        inline_requests = inline_requests + 1
      end
    end,
  })
end

-- Insert mode with the cursor at (row, col), 0-based byte column (at the end of the line: "A").
local function insert_at(row, col)
  local line = vim.api.nvim_buf_get_lines(0, row, row + 1, true)[1]
  if col >= #line and #line > 0 then
    vim.api.nvim_win_set_cursor(0, { row + 1, 0 })
    vim.api.nvim_feedkeys("A", "n", false)
  else
    vim.api.nvim_win_set_cursor(0, { row + 1, col })
    vim.api.nvim_feedkeys("i", "n", false)
  end
  wait(2000, function() return vim.fn.mode() == "i" end, "insert mode")
  local cursor = vim.api.nvim_win_get_cursor(0)
  assert(cursor[1] == row + 1 and cursor[2] == col, "cursor at " .. vim.inspect(cursor) .. ", not " .. row .. "," .. col)
end

local function leave_insert()
  press("<Esc>")
  wait(2000, function() return vim.fn.mode() == "n" end, "normal mode")
end

-- Ask explicitly at the cursor (insert mode) and describe what is shown.
local function ask(step)
  local ie_inline = require("instant_edit.inline")
  local shown, why_not
  ie_inline.trigger({ done = function(ok, why) shown, why_not = ok, why end })
  wait(tonumber(env.IE_STEP_MS), function() return shown ~= nil end, "an inline completion")
  local cur = ie_inline.current
  step.shown, step.why_not = shown, why_not or vim.NIL
  step.text = cur and cur.text or vim.NIL
  step.range = cur and cur.item.range or vim.NIL
  step.ghost = ie_inline.ghost() or vim.NIL
  step.status = require("instant_edit").status()
  return shown
end

-- One step on the second file: `lines` replaces its text, insert mode at (row, col), an explicit request, then
-- `act(step)`; the file's text is put back afterwards.
local function inline_step(name, lines_, row, col, act)
  local original = lines()
  vim.api.nvim_buf_set_lines(0, 0, -1, true, lines_)
  local step = { before = lines(), row = row, col = col }
  out.steps[name] = step
  insert_at(row, col)
  if ask(step) then
    act(step)
  end
  step.after = lines()
  leave_insert()
  vim.api.nvim_buf_set_lines(0, 0, -1, true, original)
end

local function second_file()
  local ie_inline = require("instant_edit.inline")
  local options = require("instant_edit.config").options.inline
  vim.cmd.edit(env.IE_INLINE_FILE)
  wait(30000, function() return require("instant_edit.commands").client(0) ~= nil end, "the client on the second file")
  count_requests()
  local base = lines()
  -- A new line inside a function body, accepted with the accept key (<Tab>).
  for _, s in ipairs(vim.json.decode(env.IE_EMPTY_STEPS)) do
    local name, row, col = s[1], s[2], s[3]
    local new = vim.list_extend(vim.list_slice(base, 1, row), { name == "empty_col0" and "" or env.IE_INDENT })
    vim.list_extend(new, vim.list_slice(base, row + 1))
    inline_step(name, new, row, col, function(step)
      press(options.accept_key)
      step.accepted_cursor = vim.api.nvim_win_get_cursor(0)
      step.visible_after = ie_inline.visible()
    end)
  end
  local partial = vim.json.decode(env.IE_PARTIAL_LINE)
  local prow, ptext = partial[1], partial[2]
  local partial_lines = vim.deepcopy(base)
  partial_lines[prow + 1] = ptext
  -- Partial accept: the next word with <M-Right>; the rest stays shown.
  inline_step("partial", partial_lines, prow, #ptext, function(step)
    local asked = inline_requests
    press(options.accept_word_key)
    step.after_word = vim.api.nvim_get_current_line()
    step.ghost_after_word = ie_inline.ghost() or vim.NIL
    step.cursor_after_word = vim.api.nvim_win_get_cursor(0)
    sleep(options.debounce_ms + 300)
    step.requests_after_word = inline_requests - asked
  end)
  -- Typing through, with typing-triggered requests on: the first character of the suggestion trims the ghost
  -- text with no request, backspace shows it whole again, a character that departs from it asks again.
  options.auto_trigger = true
  inline_step("typing", partial_lines, prow, #ptext, function(step)
    local asked = inline_requests
    local ghost = ie_inline.ghost() or ""
    local first = ghost:sub(1, 1)
    press(first == "<" and "<lt>" or first)
    step.ghost_typed = ie_inline.ghost() or vim.NIL
    sleep(options.debounce_ms + 300)
    step.requests_typed = inline_requests - asked
    press("<BS>")
    step.ghost_backspaced = ie_inline.ghost() or vim.NIL
    sleep(options.debounce_ms + 300)
    step.requests_backspaced = inline_requests - asked
    press(ghost:sub(1, 1) == "Z" and "Q" or "Z")
    step.ghost_departed = ie_inline.ghost() or vim.NIL
    wait(options.debounce_ms + 3000, function() return inline_requests > asked end, "a request after departing")
    step.requests_departed = inline_requests - asked
  end)
  options.auto_trigger = false
  vim.cmd.write()
end

local function main()
  vim.opt.rtp:prepend(env.IE_PLUGIN)
  vim.opt.swapfile = false
  vim.cmd("filetype on") -- -u NONE leaves it off, and vim.lsp.enable attaches on FileType
  vim.cmd("runtime plugin/instant_edit.lua")
  require("instant_edit").setup({
    cmd = vim.json.decode(env.IE_CMD),
    inline = { auto_trigger = false },
    notify_status = false,
    -- No Regenerate answer is this sure: the scenario sees a refusal, then applies it on request.
    server = { regenerateFloor = 1.01 },
  })
  vim.cmd.edit(env.IE_FILE)
  local client
  wait(30000, function()
    client = require("instant_edit.commands").client(0)
    return client ~= nil and client.initialized
  end, "the instant-edit client to initialize")
  out.encoding = client.offset_encoding
  wait(60000, function() return require("instant_edit.status").state == "ready" end, "the model to load")
  out.status = require("instant_edit").status()
  -- Regenerate under a floor no answer reaches: refused with the buffer untouched, then applied on request and
  -- undone. A range where the model proposes nothing at all is no refusal: try the next one.
  for _, range in ipairs({ "1,2", "9,10", "5,7", "2,2", "5,5", "10,10" }) do
    command("regenerate", range .. "InstantEdit")
    out.steps.regenerate.range = range
    out.steps.regenerate.withheld = require("instant_edit.commands").withheld ~= nil
    if out.steps.regenerate.withheld then
      break
    end
  end
  apply_anyway()
  if out.steps.apply_anyway.after ~= out.steps.apply_anyway.before then
    vim.cmd("silent undo")
  end
  out.steps.apply_anyway.undone = lines()
  command("repair", env.IE_REPAIR_RANGE .. "InstantEditRepair")
  command("rewrite", env.IE_REWRITE_RANGE .. "InstantEdit " .. env.IE_INSTRUCTION)
  code_action()
  inline()
  command("translate", "1,2InstantEditTranslate javascript")
  vim.cmd.write()
  out.final = lines()
  second_file()
  local health = vim.api.nvim_exec2("checkhealth instant_edit", { output = true })
  out.health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, true), "\n")
  return health
end

scenario.start(main)
