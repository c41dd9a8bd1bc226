-- Plugin pieces that need no server, run in headless Neovim by test_neovim.py::test_neovim_plugin_units.
-- Prints "ok <name>" per check; any failure -> :cquit 1 with the traceback on stderr.
local checks = {}
local function check(name, fn) table.insert(checks, { name, fn }) end

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
