---Next-edit suggestions: after an edit and a pause, `instantEdit/nextEdits` asks the server where else the edit
---calls for a change (a rename's other uses, ...). Each answer is shown in place like a diff: the old text struck
---through, the new text as inline virtual text right after it.
---
---The answer is pinned to the document version the request was made for (the buffer's changedtick, as
---Neovim's client sends it): an answer for another version is dropped, and any edit clears the suggestions,
---cancels the request in flight and asks again after the next pause. Accepting one is an edit too: the others
---are cleared and asked for again, since their ranges belong to the old text.
local config = require("instant_edit.config")
local commands = require("instant_edit.commands")

local M = {
  ns = vim.api.nvim_create_namespace("instant_edit_next"),
  -- buf -> { client, version, items }: the suggestions shown, each with 0-based byte positions
  -- {row, col, end_row, end_col}, the LSP `edit` ({range, newText}), `text` and `confidence`.
  shown = {},
  pending = {}, -- buf -> { client, id }: the request in flight
  timers = {}, -- buf -> uv timer: the pause after the last change
  ticks = {}, -- buf -> changedtick of the last change handled (TextChanged after TextChangedI is no new edit)
  requests = 0, -- requests sent (tests count them)
}

local function notify(msg, level)
  vim.notify("[instant-edit] " .. msg, level or vim.log.levels.INFO)
end

---The LSP version of the buffer as the client sends it.
function M.version(buf)
  return vim.lsp.util.buf_versions[buf]
end

local function cancel_pending(buf)
  local pending = M.pending[buf]
  M.pending[buf] = nil
  if pending then
    pcall(pending.client.cancel_request, pending.client, pending.id)
  end
end

local function stop_timer(buf)
  local timer = M.timers[buf]
  if timer then
    timer:stop()
  end
end

---Remove the suggestions shown in `buf` (default: the current buffer).
function M.dismiss(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  if vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  end
  M.shown[buf] = nil
end

---True when suggestions are shown in `buf` (default: the current buffer).
function M.visible(buf)
  local s = M.shown[buf or vim.api.nvim_get_current_buf()]
  return s ~= nil and #s.items > 0
end

---A 0-based (row, byte col) for an LSP position in `enc`, clamped to the buffer.
local function byte_pos(buf, pos, enc)
  local count = vim.api.nvim_buf_line_count(buf)
  if pos.line >= count then
    local last = vim.api.nvim_buf_get_lines(buf, count - 1, count, true)[1]
    return count - 1, #last
  end
  local line = vim.api.nvim_buf_get_lines(buf, pos.line, pos.line + 1, true)[1]
  local ok, col = pcall(vim.str_byteindex, line, enc, pos.character, false)
  return pos.line, ok and math.min(col, #line) or #line
end

local function draw(buf, item)
  local hl = config.options.next_edit
  if item.end_row > item.row or item.end_col > item.col then
    vim.api.nvim_buf_set_extmark(buf, M.ns, item.row, item.col, {
      end_row = item.end_row, end_col = item.end_col, hl_group = hl.hl_old, priority = 200,
    })
  end
  if item.text ~= "" then
    local lines = vim.split(item.text, "\n", { plain = true })
    local mark = { virt_text = { { lines[1], hl.hl_new } }, virt_text_pos = "inline", right_gravity = false }
    if #lines > 1 then
      mark.virt_lines = vim.tbl_map(function(l) return { { l, hl.hl_new } } end, vim.list_slice(lines, 2))
    end
    vim.api.nvim_buf_set_extmark(buf, M.ns, item.end_row, item.end_col, mark)
  end
end

---Show an answer of `instantEdit/nextEdits` ({version, edits}) in `buf`; the number of suggestions shown. An
---answer for another version than the buffer's (or than `sent`, the version the request went out with) shows
---nothing and returns nil.
function M.show(buf, client, result, sent)
  M.dismiss(buf)
  if type(result) ~= "table" or type(result.edits) ~= "table" or not vim.api.nvim_buf_is_valid(buf) then
    return 0
  end
  local now = M.version(buf)
  if result.version ~= now or (sent ~= nil and sent ~= now) then
    return nil
  end
  local enc = client and client.offset_encoding or "utf-16"
  local items = {}
  for _, edit in ipairs(result.edits) do
    if type(edit) == "table" and type(edit.range) == "table" and type(edit.newText) == "string" then
      local row, col = byte_pos(buf, edit.range.start, enc)
      local end_row, end_col = byte_pos(buf, edit.range["end"], enc)
      if end_row > row or (end_row == row and end_col >= col) then
        local item = { row = row, col = col, end_row = end_row, end_col = end_col, text = edit.newText,
                       confidence = edit.confidence, edit = { range = edit.range, newText = edit.newText } }
        table.insert(items, item)
        draw(buf, item)
      end
    end
  end
  if #items > 0 then
    M.shown[buf] = { client = client, version = now, items = items }
  end
  return #items
end

local function cursor_in(buf)
  local win = vim.api.nvim_get_current_win()
  if vim.api.nvim_win_get_buf(win) ~= buf then
    win = vim.fn.bufwinid(buf)
    if win == -1 then
      return nil
    end
  end
  local pos = vim.api.nvim_win_get_cursor(win)
  return pos[1] - 1, pos[2]
end

---True when the cursor (row, col) stands on the suggestion: within its old text, or on its insertion point
---(normal mode stops on the last character, so the end of the line counts as its last character).
local function on(buf, item, row, col)
  if row < item.row or row > item.end_row then
    return false
  end
  local line = vim.api.nvim_buf_get_lines(buf, row, row + 1, true)[1]
  local last_char = math.max(#line - 1, 0)
  local first = row == item.row and item.col or 0
  local last = row == item.end_row and math.max(item.end_col - 1, row == item.row and item.col or 0) or #line
  return col >= math.min(first, last_char) and col <= math.min(last, last_char)
end

---The suggestions shown in `buf`, nearest the cursor first (the one under it, if any, comes first).
function M.items(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  local s = M.shown[buf]
  if not s then
    return {}
  end
  local row, col = cursor_in(buf)
  local items = vim.list_slice(s.items)
  if not row then
    return items
  end
  local function distance(item)
    if on(buf, item, row, col) then
      return -1
    end
    local r = row < item.row and item.row or (row > item.end_row and item.end_row or row)
    local c = r == item.row and item.col or 0
    return math.abs(row - r) * 1e6 + math.abs(col - c)
  end
  table.sort(items, function(a, b) return distance(a) < distance(b) end)
  return items
end

local function jump(buf, item)
  local win = vim.api.nvim_get_current_win()
  if vim.api.nvim_win_get_buf(win) ~= buf then
    return
  end
  vim.cmd("normal! m'") -- a jump: <C-o> comes back
  vim.api.nvim_win_set_cursor(win, { item.row + 1, item.col })
end

---Ask for next edits at the cursor of `buf` now (any request in flight is cancelled). `opts.jump` moves the
---cursor to the nearest suggestion once shown; `opts.done(count, why_not)` gets how many were shown.
---@param opts {buf?: integer, jump?: boolean, done?: fun(count: integer, why_not: string|nil)}|nil
function M.request(opts)
  opts = opts or {}
  local buf = opts.buf or vim.api.nvim_get_current_buf()
  local finish = function(n, why) if opts.done then opts.done(n, why) end end
  local client = commands.client(buf)
  if not client then
    return finish(0, "no instant-edit client attached")
  end
  cancel_pending(buf)
  stop_timer(buf)
  M.dismiss(buf)
  local row, col = cursor_in(buf)
  if not row then
    return finish(0, "the buffer is in no window")
  end
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    position = commands.position(buf, row, col, client.offset_encoding),
  }
  local tick = vim.api.nvim_buf_get_changedtick(buf)
  local id
  local ok, rid = client:request("instantEdit/nextEdits", params, function(err, result, ctx)
    if M.pending[buf] and M.pending[buf].id == id then
      M.pending[buf] = nil
    end
    if err then
      return finish(0, err.message)
    end
    if not vim.api.nvim_buf_is_valid(buf) or vim.api.nvim_buf_get_changedtick(buf) ~= tick then
      return finish(0, "the buffer changed")
    end
    local n = M.show(buf, client, result, ctx and ctx.version)
    if n == nil then
      return finish(0, "an answer for another version")
    elseif n == 0 then
      return finish(0, "no suggestion")
    end
    if opts.jump then
      jump(buf, M.items(buf)[1])
    end
    finish(n)
  end, buf)
  id = rid
  if ok then
    M.requests = M.requests + 1
    M.pending[buf] = { client = client, id = id }
  else
    finish(0, "the server is not running")
  end
end

---Accept `item` (default: the suggestion nearest the cursor): apply its edit, clear the others and ask again
---after the pause. True when something was applied.
function M.accept(buf, item)
  buf = buf or vim.api.nvim_get_current_buf()
  local s = M.shown[buf]
  item = item or M.items(buf)[1]
  if not s or not item then
    return false
  end
  M.dismiss(buf)
  local enc = s.client and s.client.offset_encoding or "utf-16"
  vim.lsp.util.apply_text_edits({ vim.deepcopy(item.edit) }, buf, enc)
  local win = vim.api.nvim_get_current_win()
  if vim.api.nvim_win_get_buf(win) == buf then
    local line = vim.api.nvim_buf_get_lines(buf, item.row, item.row + 1, true)[1]
    vim.api.nvim_win_set_cursor(win, { item.row + 1, math.min(item.col, math.max(#line - 1, 0)) })
  end
  M.changed(buf) -- also when no TextChanged follows (a call from Lua outside normal mode)
  return true
end

---<Tab>: jump to the nearest suggestion, or accept it when the cursor is on it. False when none is shown.
function M.jump_or_accept()
  local buf = vim.api.nvim_get_current_buf()
  local item = M.items(buf)[1]
  if not item then
    return false
  end
  local row, col = cursor_in(buf)
  if row and on(buf, item, row, col) then
    return M.accept(buf, item)
  end
  jump(buf, item)
  return true
end

---A change in `buf`: drop what is shown and in flight, and ask again after `pause_ms` without another change.
function M.changed(buf)
  M.ticks[buf] = vim.api.nvim_buf_get_changedtick(buf)
  cancel_pending(buf)
  M.dismiss(buf)
  local opts = config.options.next_edit
  if not opts.enabled then
    return
  end
  local timer = M.timers[buf]
  if not timer then
    timer = vim.uv.new_timer()
    M.timers[buf] = timer
  end
  timer:stop()
  timer:start(opts.pause_ms, 0, vim.schedule_wrap(function()
    if vim.api.nvim_buf_is_valid(buf) and M.ticks[buf] == vim.api.nvim_buf_get_changedtick(buf)
      and commands.client(buf) and vim.fn.bufwinid(buf) ~= -1 then
      M.request({ buf = buf })
    end
  end))
end

local function forget(buf)
  cancel_pending(buf)
  local timer = M.timers[buf]
  if timer then
    timer:stop()
    timer:close()
  end
  M.timers[buf], M.ticks[buf], M.shown[buf] = nil, nil, nil
end

local function feed(key)
  local count = vim.v.count > 0 and tostring(vim.v.count) or ""
  vim.api.nvim_feedkeys(count .. vim.api.nvim_replace_termcodes(key, true, false, true), "n", false)
end

local function keymaps(opts)
  local jump_key, dismiss_key = opts.keymaps.jump_accept, opts.keymaps.dismiss
  -- Plain mappings that fall through to the key's own meaning when no suggestion is shown.
  if jump_key and jump_key ~= "" then
    vim.keymap.set("n", jump_key, function()
      if not M.jump_or_accept() then
        feed(jump_key)
      end
    end, { desc = "instant-edit: jump to the next edit, or accept it" })
  end
  if dismiss_key and dismiss_key ~= "" then
    vim.keymap.set("n", dismiss_key, function()
      M.dismiss()
      feed(dismiss_key)
    end, { desc = "instant-edit: dismiss the next edits" })
  end
end

---Highlights: the old text struck through, the new text as added.
function M.highlights()
  vim.api.nvim_set_hl(0, "InstantEditNextOld", { default = true, strikethrough = true })
  vim.api.nvim_set_hl(0, "InstantEditNextNew", { default = true, link = "DiffAdd" })
end

---Turn next-edit suggestions on for attached buffers.
function M.setup()
  M.highlights()
  local opts = config.options.next_edit
  local group = vim.api.nvim_create_augroup("instant_edit_next", { clear = true })
  if not opts.enabled then
    return
  end
  keymaps(opts)
  vim.api.nvim_create_autocmd({ "TextChanged", "TextChangedI" }, {
    group = group,
    callback = function(ev)
      if M.ticks[ev.buf] ~= vim.api.nvim_buf_get_changedtick(ev.buf) and commands.client(ev.buf) then
        M.changed(ev.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "BufUnload", "LspDetach" }, {
    group = group,
    callback = function(ev)
      forget(ev.buf)
    end,
  })
end

---:InstantEditNext: ask now and jump to the nearest suggestion.
function M.command()
  M.request({
    jump = true,
    done = function(n, why)
      if n == 0 and why then
        notify("no next edit: " .. why, why == "no suggestion" and vim.log.levels.INFO or vim.log.levels.WARN)
      end
    end,
  })
end

return M
