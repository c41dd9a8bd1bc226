-- Headless Neovim scenario for tests/editors/test_neovim_next_edit.py: next-edit suggestions (instantEdit/nextEdits)
-- after renaming `def total` to `def total_sum` by typing, shown as a diff in place, jumped to and accepted with
-- <Tab>, dismissed with <Esc>. Inputs come from environment variables; what happened is written as JSON to
-- $IE_RESULT for the Python side to check. Any error -> :cquit 1.
local scenario = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "nvim_scenario_lib.lua"))
local env = vim.env
local out, sleep, wait, press, lines = scenario.out, scenario.sleep, scenario.wait, scenario.press, scenario.lines

local function cursor()
  return vim.api.nvim_win_get_cursor(0)
end

-- The extmarks of the next-edit namespace, as the user sees them: struck-through ranges with the buffer text they
-- cover, and inline virtual texts.
local function marks()
  local ne = require("instant_edit.next_edit")
  local old, new = {}, {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ne.ns, 0, -1, { details = true })) do
    local row, col, d = m[2], m[3], m[4]
    if d.hl_group then
      local text = table.concat(vim.api.nvim_buf_get_text(0, row, col, d.end_row, d.end_col, {}), "\n")
      table.insert(old, { row = row, col = col, end_row = d.end_row, end_col = d.end_col, hl = d.hl_group,
                          text = text })
    end
    if d.virt_text then
      table.insert(new, { row = row, col = col, pos = d.virt_text_pos, text = d.virt_text[1][1],
                          hl = d.virt_text[1][2] })
    end
  end
  return { old = old, new = new, count = #old + #new }
end

local function shown()
  return marks().count > 0
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
    -- The embedded model is weak: keep every candidate, so its ranking shows.
    server = { nextEditMargin = -100 },
    next_edit = { pause_ms = tonumber(env.IE_PAUSE_MS) },
  })
  local ne = require("instant_edit.next_edit")
  vim.cmd.edit(env.IE_FILE)
  local buf = vim.api.nvim_get_current_buf()
  local client
  wait(30000, function()
    client = require("instant_edit.commands").client(0)
    return client ~= nil and client.initialized
  end, "the instant-edit client to initialize")
  out.encoding = client.offset_encoding
  wait(60000, function() return require("instant_edit.status").state == "ready" end, "the model to load")
  out.original = lines()
  local step_ms = tonumber(env.IE_STEP_MS)

  -- The highlight groups as defined by setup().
  out.hl_old = vim.api.nvim_get_hl(0, { name = "InstantEditNextOld", link = false })
  out.hl_new = vim.api.nvim_get_hl(0, { name = "InstantEditNextNew" })

  -- An answer for another version than the buffer's is dropped; one for this version is drawn.
  local version = ne.version(buf)
  local edit = { range = { start = { line = 6, character = 10 }, ["end"] = { line = 6, character = 15 } },
                 newText = "x", confidence = 0.5 }
  out.steps.stale = { version = version, shown = ne.show(buf, client, { version = version - 1, edits = { edit } }) or vim.NIL,
                      marks = marks().count }
  out.steps.stale.current = ne.show(buf, client, { version = version, edits = { edit } }) or vim.NIL
  out.steps.stale.current_marks = marks()
  ne.dismiss(buf)

  -- <Tab> with no suggestion shown is itself (jump forward in the jump list): G, <C-o> back to line 1, <Tab>.
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  press("G")
  press("<C-o>")
  local tab = { before = lines(), cursor_before = cursor() }
  press("<Tab>")
  tab.after, tab.cursor_after, tab.marks = lines(), cursor(), marks().count
  tab.requests = ne.requests
  out.steps.tab_nothing = tab

  -- Rename by typing: `def total` -> `def total_sum`, then leave insert mode; the suggestions come after the pause.
  vim.api.nvim_win_set_cursor(0, { 1, 8 }) -- on the "l" of "total"
  press("a_sum<Esc>")
  local rename = { after = lines(), cursor = cursor() }
  out.steps.rename = rename
  wait(step_ms, shown, "next-edit suggestions after the rename")
  rename.marks, rename.requests, rename.version = marks(), ne.requests, ne.version(buf)
  rename.shown_version = ne.shown[buf] and ne.shown[buf].version or vim.NIL

  -- <Esc> hides them and changes nothing.
  press("<Esc>")
  out.steps.esc = { marks = marks().count, after = lines(), visible = ne.visible(buf) }

  -- :InstantEditNext asks at once and jumps to the nearest suggestion.
  local from = cursor()
  vim.cmd("InstantEditNext")
  wait(step_ms, shown, ":InstantEditNext to show suggestions")
  out.steps.command = { from = from, cursor = cursor(), marks = marks() }

  -- From line 1: <Tab> jumps to the nearest suggestion, a second <Tab> accepts it.
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  local jump = { before = lines() }
  press("<Tab>")
  jump.cursor, jump.after, jump.marks = cursor(), lines(), marks()
  out.steps.jump = jump
  local accept = { before = lines() }
  press("<Tab>")
  accept.after, accept.cursor, accept.marks = lines(), cursor(), marks()
  out.steps.accept = accept

  -- The document changed: the rest is asked for again after the pause (the weak model may offer nothing more).
  local again = { requests_before = ne.requests }
  local ok = pcall(wait, tonumber(env.IE_AGAIN_MS), function() return shown() end, "")
  again.shown, again.requests = ok, ne.requests - again.requests_before
  if ok then
    again.marks = marks()
    vim.api.nvim_win_set_cursor(0, { 1, 0 })
    press("<Tab>")
    again.cursor = cursor()
    press("<Tab>")
    again.after = lines()
  end
  out.steps.again = again
  -- Any edit hides what is shown at once (before the pause): a suggestion drawn for this version, then a new line.
  sleep(tonumber(env.IE_PAUSE_MS) + 200)
  wait(step_ms, function() return ne.pending[buf] == nil end, "the last request to finish")
  local line = #lines()
  local n = ne.show(buf, client, { version = ne.version(buf), edits = { {
    range = { start = { line = line - 1, character = 0 }, ["end"] = { line = line - 1, character = 0 } },
    newText = "pass", confidence = 0.5 } } })
  local edited = { shown = n or vim.NIL, marks_before = marks().count }
  vim.api.nvim_win_set_cursor(0, { line, 0 })
  press("o# note<Esc>")
  edited.marks_after, edited.after = marks().count, lines()
  out.steps.edited = edited
end

scenario.start(main)
