-- Plugin pieces that need no server, run in headless Neovim by test_neovim.py::test_neovim_plugin_units.
-- Prints "ok <name>" per check; any failure -> :cquit 1 with the traceback on stderr.
local checks = {}
local function check(name, fn) table.insert(checks, { name, fn }) end

-- Yield to the main loop for `ms` (checks run in a coroutine), so typed keys and scheduled callbacks run.
local function sleep(ms)
  local co = coroutine.running()
  vim.defer_fn(function() coroutine.resume(co) end, ms)
  coroutine.yield()
end

-- Keys as a user types them (through mappings), then wait until they are processed.
local function press(keys)
  vim.api.nvim_feedkeys(vim.keycode(keys), "t", false)
  repeat
    sleep(20)
  until vim.fn.getchar(1) == 0
end

check("positions follow the client's encoding", function()
  local commands = require("instant_edit.commands")
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, true, { 'x = "héllo ✓😀" + y' })
  local col = #'x = "héllo ✓😀"'  -- byte column after the closing quote
  assert(commands.position(buf, 0, col, "utf-8").character == col)
  assert(commands.position(buf, 0, col, "utf-16").character == 15, "the emoji is two UTF-16 units")
  assert(commands.position(buf, 0, col, "utf-32").character == 14)
  assert(commands.position(buf, 0, 999, "utf-16").character == 19, "columns past the end clamp to the end")
end)

check("a charwise selection keeps its columns and its whole last character", function()
  local commands = require("instant_edit.commands")
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, true, { "ab ✓ cd", "ef" })
  vim.api.nvim_win_set_cursor(0, { 1, 1 })
  vim.cmd("normal! vfd")  -- from 'b' to 'd'
  vim.cmd("normal! \27")
  vim.cmd("normal! 0vf✓\27") -- from 'a' to the multibyte check mark
  local s, e = commands.selection(buf, 1, 1, true)
  assert(s[1] == 0 and s[2] == 0, vim.inspect(s))
  assert(e[1] == 0 and e[2] == #"ab ✓", vim.inspect(e))
  local ws, we = commands.selection(buf, 1, 2, false)
  assert(ws[2] == 0 and we[1] == 1 and we[2] == 2, "without a range: whole lines")
end)

check("setup options merge over the defaults", function()
  local config = require("instant_edit.config")
  local o = config.set({ server = { device = "cpu" }, inline = { accept_key = "<C-l>" } })
  assert(o.server.device == "cpu" and o.server.threshold == 0.9)
  assert(o.inline.accept_key == "<C-l>" and o.inline.enabled == true)
  assert(config.defaults.server.device == "auto", "defaults must not be mutated")
end)

check("lsp config advertises inline completion and the notification handlers", function()
  local cfg = require("instant_edit").lsp_config(require("instant_edit.config").set({ lsp = { name_extra = 1 } }))
  assert(cfg.capabilities.textDocument.inlineCompletion ~= nil)
  assert(cfg.init_options.contextTokens == 512 and cfg.init_options.inlineCompletion == true)
  assert(type(cfg.handlers["instantEdit/draft"]) == "function")
  assert(type(cfg.handlers["instantEdit/status"]) == "function")
  assert(cfg.name_extra == 1, "user lsp fields are merged")
end)

check("a draft shows as virtual lines and is cleared when done", function()
  local draft = require("instant_edit.draft")
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_name(buf, vim.fn.tempname() .. ".py")
  vim.api.nvim_buf_set_lines(buf, 0, -1, true, { "a", "b", "c" })
  local params = { uri = vim.uri_from_bufnr(buf), version = 1, text = "x = ░░\ny", step = 2, done = false,
                   range = { start = { line = 0, character = 0 }, ["end"] = { line = 2, character = 0 } } }
  draft.handler(nil, params)
  local marks = vim.api.nvim_buf_get_extmarks(buf, draft.ns, 0, -1, { details = true })
  assert(#marks == 1 and marks[1][2] == 1, "placed on the range's last line (end at column 0 counts as the line above)")
  assert(#marks[1][4].virt_lines == 3, "a header line and one per draft line")
  draft.handler(nil, vim.tbl_extend("force", params, { done = true }))
  assert(#vim.api.nvim_buf_get_extmarks(buf, draft.ns, 0, -1, {}) == 0)
end)

check("completion confidence in the status line and the ghost text's highlight", function()
  local status, inline = require("instant_edit.status"), require("instant_edit.inline")
  require("instant_edit.config").set({ notify_status = false })
  status.handler(nil, { state = "ready", model = "m", device = "cpu" })
  status.confidence_handler(nil, { confidence = 0.25, refused = vim.NIL, offered = true })
  assert(status.line() == "ready: m on cpu | completion 0.25", status.line())
  assert(inline.hl_for(0.25) == "InstantEditGhostLow" and inline.hl_for(0.75) == "InstantEditGhost")
  status.confidence_handler(nil, { confidence = 0.1, refused = "confidence", offered = false })
  assert(status.line() == "ready: m on cpu | completion withheld (confidence, 0.10)", status.line())
  status.confidence = nil
end)

check("the completion's source follows its confidence, and a missing source is left out", function()
  local status = require("instant_edit.status")
  require("instant_edit.config").set({ notify_status = false })
  status.handler(nil, { state = "ready", model = "m", device = "cpu" })
  local seen = status.confidences
  status.confidence_handler(nil, { confidence = 0.5, refused = vim.NIL, offered = true, source = "typed" })
  assert(status.line() == "ready: m on cpu | completion 0.50 (typed)", status.line())
  status.confidence_handler(nil, { confidence = 0.1, refused = "syntax", offered = false, source = "model" })
  assert(status.line() == "ready: m on cpu | completion withheld (syntax, 0.10, model)", status.line())
  status.confidence_handler(nil, { confidence = 0.75, refused = vim.NIL, offered = true, source = vim.NIL })
  assert(status.line() == "ready: m on cpu | completion 0.75", status.line())
  assert(status.confidences == seen + 3)
  status.confidence = nil
end)

-- A suggestion shown by the extmark path without a server: `item` as the server sends it, the cursor at `col`
-- (outside insert mode the suggestion's own column stands for the cursor).
local function shown(line, col, item)
  local inline = require("instant_edit.inline")
  require("instant_edit.config").set({ notify_status = false })
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, true, { "def f(x):", line, "    return x" })
  assert(inline.show(buf, { offset_encoding = "utf-16" }, item, 1, col), "the suggestion was not shown")
  return inline, buf
end

local function row2(buf)
  return vim.api.nvim_buf_get_lines(buf, 1, 2, true)[1]
end

check("a range over the line's whitespace: ghost text beyond it, accept replaces the range", function()
  local item = { insertText = "    y = x + 1", range = { start = { line = 1, character = 0 }, ["end"] = { line = 1, character = 6 } } }
  local inline, buf = shown("      ", 0, item)
  assert(inline.ghost() == "y = x + 1", vim.inspect(inline.ghost()))
  local mark = vim.api.nvim_buf_get_extmarks(buf, inline.ns, 0, -1, { details = true })[1]
  assert(mark[3] == 4 and mark[4].virt_text[1][1] == "y = x + 1", "drawn after the 4 spaces the text starts with")
  assert(inline.accept() and row2(buf) == "    y = x + 1", row2(buf))
  assert(not inline.visible() and #vim.api.nvim_buf_get_extmarks(buf, inline.ns, 0, -1, {}) == 0)
end)

check("accept the next word, then the next line; the rest stays shown", function()
  local inline, buf = shown("    ", 4, { insertText = "total = sum(x)\n    print(total)" })
  assert(inline.accept_word() and row2(buf) == "    total", row2(buf))
  assert(inline.ghost() == " = sum(x)\n    print(total)", vim.inspect(inline.ghost()))
  assert(inline.accept_word() and row2(buf) == "    total = sum", row2(buf))
  assert(inline.accept_line() and row2(buf) == "    total = sum(x)", row2(buf))
  assert(inline.ghost() == "\n    print(total)", vim.inspect(inline.ghost()))
  assert(inline.accept_line(), "the second line")
  assert(vim.api.nvim_buf_get_lines(buf, 1, 3, true)[2] == "    print(total)")
  assert(not inline.visible(), "nothing is left to show")
end)

check("typing through the ghost text trims it, backspace shows more again, departing drops it", function()
  local inline, buf = shown("    ", 4, { insertText = "return x" })
  local function typed(text)
    vim.api.nvim_buf_set_lines(buf, 1, 2, true, { "    " .. text })
    inline.current.col = 4 + #text -- the cursor after what was typed
    return inline.refresh() and inline.ghost()
  end
  assert(typed("ret") == "urn x")
  assert(typed("re") == "turn x", "backspace shows the longer rest")
  assert(typed("return x") == false, "typed to the end: nothing left")
  inline.show(buf, { offset_encoding = "utf-16" }, { insertText = "return x" }, 1, 4)
  assert(typed("rex") == false and inline.current == nil, "a departing character drops it")
end)

check("with the native client, <M-Right> takes its item over: one word in, the rest shown, typed through", function()
  -- A stand-in for Neovim 0.12's vim.lsp.inline_completion: get() hands the shown item to on_accept.
  local inline = require("instant_edit.inline")
  local saved, calls = vim.lsp.inline_completion, {}
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, true, { "if x:", "        " })
  local item = { client_id = nil, insert_text = "    y = f(x)",
                 range = { start = { row = 1, col = 0 }, end_ = { row = 1, col = 8 } } }
  vim.lsp.inline_completion = {
    enable = function(enable, filter) table.insert(calls, { enable, filter and filter.bufnr }) end,
    get = function(opts)
      vim.schedule(function() if opts.on_accept then opts.on_accept(item) end end)
      return true
    end,
  }
  local ok, err = pcall(function()
    require("instant_edit.config").set({ notify_status = false, inline = { auto_trigger = false } })
    inline.setup()
    assert(calls[1][1] == true and calls[1][2] == nil, "setup turns the native client on")
    vim.api.nvim_win_set_cursor(0, { 2, 0 })
    press("i")
    press("<M-Right>")
    sleep(20)
    local line = vim.api.nvim_buf_get_lines(buf, 1, 2, true)[1]
    assert(line == "    y", vim.inspect(line))
    assert(inline.ghost() == " = f(x)", vim.inspect(inline.ghost()))
    assert(calls[2][1] == false and calls[2][2] == buf, "the native client is paused for the buffer")
    press(" =")
    assert(inline.ghost() == " f(x)", "typed through: " .. vim.inspect(inline.ghost()))
    press("<Tab>")
    assert(vim.api.nvim_buf_get_lines(buf, 1, 2, true)[1] == "    y = f(x)")
    press("<Esc>")
    assert(calls[3][1] == true and calls[3][2] == buf, "leaving insert mode gives the buffer back to it")
  end)
  vim.lsp.inline_completion = saved
  pcall(vim.api.nvim_del_augroup_by_name, "instant_edit_inline")
  for _, key in ipairs({ "<Tab>", "<M-Right>", "<M-Down>", "<C-]>" }) do
    pcall(vim.keymap.del, "i", key)
  end
  assert(ok, err)
end)

check("status line and commands exist before setup", function()
  local status = require("instant_edit.status")
  require("instant_edit.config").set({ notify_status = false })
  status.handler(nil, { state = "error", model = "m", device = "cpu", message = "no weights" })
  assert(status.line() == "error: m on cpu (no weights)", status.line())
  assert(vim.fn.exists(":InstantEditRepair") == 2 and vim.fn.exists(":InstantEditTranslate") == 2)
end)

local failed = false
local ok_setup, setup_err = pcall(function()
  vim.opt.rtp:prepend(assert(vim.env.IE_PLUGIN, "IE_PLUGIN is not set"))
  vim.cmd("runtime plugin/instant_edit.lua")
end)
if not ok_setup then
  io.stderr:write(tostring(setup_err) .. "\n")
  vim.cmd("cquit 1")
end
-- The checks run in a coroutine on the main loop, so a check can type keys (`press`) and wait for them.
local runner = coroutine.create(function()
  for _, c in ipairs(checks) do
    local ok, err = xpcall(c[2], debug.traceback)
    if ok then
      io.stdout:write("ok " .. c[1] .. "\n")
    else
      failed = true
      io.stderr:write("FAIL " .. c[1] .. ": " .. err .. "\n")
    end
  end
  vim.cmd(failed and "cquit 1" or "qall!")
end)
local started, err = coroutine.resume(runner)
if not started then
  io.stderr:write(tostring(err) .. "\n")
  vim.cmd("cquit 1")
end
