-- Headless Neovim scenario for tests/editors/test_neovim.py: Repair, Rewrite, a code action, inline completion.
-- Inputs come from environment variables; the outcome is written as JSON to $IE_RESULT. Any error -> :cquit 1.
local env = vim.env
local out = { steps = {} }

local function save()
  local f = assert(io.open(env.IE_RESULT, "w"))
  f:write(vim.json.encode(out))
  f:close()
end

local function wait(ms, cond, what)
  if not vim.wait(ms, cond, 20) then
    error("timed out after " .. ms .. " ms waiting for " .. what)
  end
end

local function lines()
  return vim.api.nvim_buf_get_lines(0, 0, -1, true)
end

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
  for _, range in ipairs({ "1,2", "9,10", "5,7" }) do
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
  local health = vim.api.nvim_exec2("checkhealth instant_edit", { output = true })
  out.health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, true), "\n")
  return health
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  -- The LSP log tells why a server did not start or answer.
  local log = io.open(vim.lsp.get_log_path(), "r")
  out.failure = err .. (log and ("\nLSP log tail:\n" .. log:read("*a"):sub(-3000)) or "")
end
pcall(save)
if ok then
  vim.cmd("qall!")
else
  io.stderr:write(tostring(err) .. "\n")
  vim.cmd("cquit 1")
end
