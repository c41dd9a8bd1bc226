---Inline completion (ghost text): native `vim.lsp.inline_completion` on Neovim 0.12+,
---otherwise `textDocument/inlineCompletion` requests shown with extmarks.
---
---The extmark path keeps one suggestion (`M.current`): the item's text replaces the range from `start_col` on
---`row` up to the text that followed the range when it was shown (`suffix`). Every edit is checked against it:
---while the text between the range start and the cursor is a prefix of the suggestion (typed through, or
---partly accepted), the rest is redrawn at once, with no request; backspacing shows the longer rest again.
---Only an edit that departs from the suggestion drops it and asks again (after debounce_ms).
---
---Partial accept (a word, a line) replaces the range with the accepted prefix of the suggestion and keeps the
---rest shown. With the native client, a partial accept takes the native item over: the buffer uses the extmark
---path until insert mode is left, so the rest stays shown and is typed through the same way.
local config = require("instant_edit.config")
local commands = require("instant_edit.commands")

local M = {
  ns = vim.api.nvim_create_namespace("instant_edit_inline"),
  current = nil,
  pending = nil,
  timer = nil,
  seq = 0,
  -- Buffers where the native client is paused because a partial accept took its item over.
  taken = {},
}

---True when this Neovim has the built-in client for inline completion.
function M.native()
  return vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.enable ~= nil
end

---True when the native client draws the suggestions of `buf` (0.12+, not turned off, not taken over).
local function native_for(buf)
  return M.native() and config.options.inline.native ~= false and not M.taken[buf]
end

---Cancel the request in flight, if any: the server stops denoising for an answer nobody will see.
local function cancel_pending()
  local pending = M.pending
  M.pending = nil
  if pending then
    pcall(pending.client.cancel_request, pending.client, pending.id)
  end
end

---Remove the shown suggestion.
function M.dismiss()
  if M.current and vim.api.nvim_buf_is_valid(M.current.buf) then
    vim.api.nvim_buf_clear_namespace(M.current.buf, M.ns, 0, -1)
  end
  M.current = nil
end

local function insert_text(item)
  local text = item.insertText
  if text == nil then
    text = item.insert_text -- a native vim.lsp.inline_completion.Item
  end
  if type(text) == "table" then
    text = text.value -- a snippet: inserted as plain text
  end
  return text
end

local function first_item(result)
  local items = result and (result.items or result) or {}
  for _, item in ipairs(items) do
    local text = insert_text(item)
    if type(text) == "string" and text ~= "" then
      return item, text
    end
  end
end

local function line_at(buf, row)
  return vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1]
end

---Bytes at the start of `a` and `b` that are equal.
local function common_prefix(a, b)
  local n = math.min(#a, #b)
  local i = 0
  while i < n and a:byte(i + 1) == b:byte(i + 1) do
    i = i + 1
  end
  return i
end

---The item's range on `row` as byte columns {start, end}, or nil when it has none. A range that does not lie
---on `row` alone gives false (not shown: an inline suggestion replaces text on the cursor's line only).
---Takes an LSP range (positions in `enc` units of `line`) or a native item's vim.Range / Range4.
local function byte_range(line, range, row, enc)
  if not range then
    return nil
  end
  local s_row, s_col, e_row, e_col
  if range.start and range.start.line ~= nil then -- LSP
    s_row, e_row = range.start.line, range["end"].line
    if s_row ~= row or e_row ~= row then
      return false
    end
    s_col = vim.str_byteindex(line, enc, range.start.character, false)
    e_col = vim.str_byteindex(line, enc, range["end"].character, false)
  elseif range.start and range.start.row ~= nil then -- vim.Range
    local e = range.end_ or range["end"]
    s_row, s_col, e_row, e_col = range.start.row, range.start.col, e.row, e.col
  elseif type(range[1]) == "number" then -- Range4
    s_row, s_col, e_row, e_col = range[1], range[2], range[3], range[4]
  else
    return nil
  end
  if s_row ~= row or e_row ~= row or e_col < s_col then
    return false
  end
  return { s_col, e_col }
end

---A suggestion for `buf`, anchored at the text around its range: `line` is row's text when it was asked for
---(default: now), with the cursor at `col`. Returns nil when the item cannot be shown there.
local function suggestion(buf, client, item, text, row, col, line)
  line = line or line_at(buf, row)
  if not line then
    return nil
  end
  local range = byte_range(line, item.range, row, client and client.offset_encoding or "utf-16")
  if range == false then
    return nil
  end
  range = range or { col, col }
  local start_col, end_col = math.min(range[1], #line), math.min(math.max(range[2], col), #line)
  if col < start_col then
    return nil
  end
  return {
    buf = buf, client = client, item = item, text = text, row = row, start_col = start_col,
    prefix = line:sub(1, start_col), suffix = line:sub(end_col + 1), col = col,
  }
end

---Where the cursor is for `cur`: the window's cursor in insert mode; in other modes (a test, a mapping from
---normal mode) the column the suggestion was last placed at, since normal mode cannot stand past the end.
local function cursor_of(cur)
  local win = vim.api.nvim_get_current_win()
  if vim.api.nvim_win_get_buf(win) ~= cur.buf then
    return nil
  end
  local pos = vim.api.nvim_win_get_cursor(win)
  if vim.fn.mode():match("^[iR]") then
    return pos[1] - 1, pos[2]
  end
  return cur.row, cur.col
end

---How the suggestion `cur` stands against the buffer now; nil when the text around it changed, the cursor
---left it, or what was typed departs from it. Fields: typed (the suggestion's first bytes, in the buffer
---between the range start and the cursor), tail (the range's text after the cursor), stop (the range's end
---column now), ghost (what is still to show), ghost_col (where), col (the cursor).
function M.layout(cur)
  cur = cur or M.current
  if not cur or not vim.api.nvim_buf_is_valid(cur.buf) then
    return nil
  end
  local row, col = cursor_of(cur)
  if row ~= cur.row then
    return nil
  end
  local line = line_at(cur.buf, row)
  if not line or line:sub(1, #cur.prefix) ~= cur.prefix then
    return nil
  end
  if #cur.suffix > 0 and line:sub(-#cur.suffix) ~= cur.suffix then
    return nil
  end
  local stop = #line - #cur.suffix
  if stop < cur.start_col or col < cur.start_col or col > stop then
    return nil
  end
  local typed = line:sub(cur.start_col + 1, col)
  if not vim.startswith(cur.text, typed) then
    return nil
  end
  local tail = line:sub(col + 1, stop)
  local rest = cur.text:sub(#typed + 1)
  local keep = common_prefix(rest, tail) -- what the range already holds after the cursor is not ghost text
  return { typed = typed, tail = tail, stop = stop, ghost = rest:sub(keep + 1), ghost_col = col + keep, col = col }
end

---The highlight for ghost text: the low-confidence group when the server rated this completion unsure.
function M.hl_for(confidence)
  local opts = config.options.inline
  if type(confidence) == "number" and confidence < (opts.low_confidence or 0) then
    return opts.hl_group_low or opts.hl_group
  end
  return opts.hl_group
end

local function draw(buf, row, col, ghost)
  vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  local lines = vim.split(ghost, "\n", { plain = true })
  local c = require("instant_edit.status").confidence
  local hl = M.hl_for(c and c.confidence)
  local mark = { virt_text = { { lines[1], hl } }, virt_text_pos = "inline" }
  if #lines > 1 then
    mark.virt_lines = vim.tbl_map(function(l) return { { l, hl } } end, vim.list_slice(lines, 2))
  end
  vim.api.nvim_buf_set_extmark(buf, M.ns, row, col, mark)
end

---Redraw the suggestion for the buffer as it is now; drop it (false) when it no longer fits or nothing of it
---is left to show. No request is made either way.
function M.refresh()
  local cur = M.current
  local lay = M.layout(cur)
  if not lay or lay.ghost == "" then
    M.dismiss()
    return false
  end
  cur.col = lay.col
  draw(cur.buf, cur.row, lay.ghost_col, lay.ghost)
  return true
end

---True when a suggestion of ours is shown (the native client draws and accepts its own).
function M.visible()
  local lay = M.layout()
  return lay ~= nil and lay.ghost ~= ""
end

---The ghost text shown now (what accepting would add), or nil.
function M.ghost()
  local lay = M.layout()
  return lay and lay.ghost ~= "" and lay.ghost or nil
end

---Show `item` (an LSP InlineCompletionItem) for `client` at row/col of `buf`; false when it does not fit.
function M.show(buf, client, item, row, col)
  local text = insert_text(item)
  if type(text) ~= "string" or text == "" then
    return false
  end
  M.dismiss()
  M.current = suggestion(buf, client, item, text, row, col)
  return M.current ~= nil and M.refresh()
end

---Ask the server for a suggestion at the cursor and show it; `done(shown, why_not)` is optional.
---`at` is a 0-based {row, byte col} to ask at instead of the cursor (normal mode cannot put the cursor past
---the last character).
---@param opts {automatic?: boolean, at?: integer[], done?: fun(shown: boolean, why_not: string|nil)}|nil
function M.trigger(opts)
  opts = opts or {}
  local buf = vim.api.nvim_get_current_buf()
  local client = commands.client(buf)
  local finish = function(shown, why_not) if opts.done then opts.done(shown, why_not) end end
  if not client then
    return finish(false, "no instant-edit client attached")
  end
  M.dismiss()
  cancel_pending()
  local row, col
  if opts.at then
    row, col = opts.at[1], opts.at[2]
  else
    row, col = unpack(vim.api.nvim_win_get_cursor(0))
    row = row - 1
  end
  local enc = client.offset_encoding
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    position = commands.position(buf, row, col, enc),
    context = { triggerKind = opts.automatic and 2 or 1 },
  }
  M.seq = M.seq + 1
  local seq, tick = M.seq, vim.api.nvim_buf_get_changedtick(buf)
  local line = line_at(buf, row)
  local ok, id = client:request("textDocument/inlineCompletion", params, function(err, result)
    if M.pending and M.pending.id == id then
      M.pending = nil
    end
    if err then
      return finish(false, err.message)
    elseif seq ~= M.seq then
      return finish(false, "overtaken by a newer request")
    end
    local item, text = first_item(result)
    if not item then
      return finish(false, "no suggestion")
    end
    -- Anchored on the line as it was asked for: typing since then keeps the answer while it follows it.
    local changed = vim.api.nvim_buf_get_changedtick(buf) ~= tick
    M.dismiss()
    M.current = suggestion(buf, client, item, text, row, col, line)
    if not M.current or not M.refresh() then
      return finish(false, changed and "overtaken by typing" or "the suggestion does not fit the line")
    end
    finish(true)
  end, buf)
  if ok then
    M.pending = { client = client, id = id }
  else
    finish(false, "the server is not running")
  end
end

---The next word of a ghost text (as copilot.vim's accept-word): leading line breaks, then characters that are
---not keyword characters ('iskeyword'), then keyword characters.
function M.next_word(ghost)
  local word = vim.fn.matchstr(ghost, [[\v^\n*%(\k@!.)*\k*]])
  return word ~= "" and word or vim.fn.strcharpart(ghost, 0, 1)
end

---The next line of a ghost text: leading line breaks, then the rest of that line.
function M.next_line(ghost)
  return ghost:match("^\n*[^\n]*")
end

---Insert `piece` (a prefix of the ghost text) by replacing the suggestion's range with the suggestion's text
---up to and including it; the rest stays shown. Returns true when something was inserted.
local function accept_piece(cur, lay, piece)
  local keep = lay.ghost_col - lay.col
  local whole = #piece == #lay.ghost
  local replacement = cur.text:sub(1, #lay.typed + keep + #piece)
  local lines = vim.split(replacement, "\n", { plain = true })
  vim.api.nvim_buf_clear_namespace(cur.buf, M.ns, 0, -1)
  M.current = nil -- the edit below must not see a half-updated suggestion
  vim.api.nvim_buf_set_text(cur.buf, cur.row, cur.start_col, cur.row, lay.stop, lines)
  local end_row = cur.row + #lines - 1
  local end_col = (#lines == 1 and cur.start_col or 0) + #lines[#lines]
  local win = vim.api.nvim_get_current_win()
  if vim.api.nvim_win_get_buf(win) == cur.buf then
    vim.api.nvim_win_set_cursor(win, { end_row + 1, end_col })
  end
  if whole then
    if cur.item.command and cur.client then
      cur.client:exec_cmd(cur.item.command, { bufnr = cur.buf })
    end
    return true
  end
  if #lines > 1 then
    -- The accepted part ended on a later line: the rest is a suggestion anchored there.
    local line = line_at(cur.buf, end_row)
    cur = vim.tbl_extend("force", cur, {
      text = cur.text:sub(#replacement + 1), row = end_row, start_col = end_col,
      prefix = line:sub(1, end_col),
    })
  end
  cur.col = end_col
  M.current = cur
  M.refresh()
  return true
end

---Accept all (`kind` "all"), the next word ("word") or the next line ("line") of the shown suggestion.
local function accept_kind(kind)
  local cur, lay = M.current, M.layout()
  if not cur or not lay or lay.ghost == "" then
    return false
  end
  local piece = lay.ghost
  if kind == "word" then
    piece = M.next_word(lay.ghost)
  elseif kind == "line" then
    piece = M.next_line(lay.ghost)
  end
  if piece == "" then
    piece = lay.ghost
  end
  return accept_piece(cur, lay, piece)
end

---Insert the shown suggestion and put the cursor after it; returns true when something was inserted.
function M.accept()
  return accept_kind("all")
end

---Insert the next word of the shown suggestion; the rest stays shown. True when something was inserted.
function M.accept_word()
  return accept_kind("word")
end

---Insert the next line of the shown suggestion; the rest stays shown. True when something was inserted.
function M.accept_line()
  return accept_kind("line")
end

---Give a buffer taken over from the native client back to it.
local function release(buf)
  if M.taken[buf] then
    M.taken[buf] = nil
    pcall(vim.lsp.inline_completion.enable, true, { bufnr = buf })
  end
end

---Partial accept with the native client: take its current item over (the native client is paused for this
---buffer until insert mode is left) and accept a part of it through the extmark path.
local function native_partial(kind)
  local buf = vim.api.nvim_get_current_buf()
  return vim.lsp.inline_completion.get({
    bufnr = buf,
    on_accept = function(item)
      local client = item.client_id and vim.lsp.get_client_by_id(item.client_id)
      local row, col = unpack(vim.api.nvim_win_get_cursor(0))
      local text = insert_text(item)
      local cur = type(text) == "string" and text ~= "" and suggestion(buf, client, item, text, row - 1, col)
      if not cur then
        return
      end
      M.taken[buf] = true
      pcall(vim.lsp.inline_completion.enable, false, { bufnr = buf })
      M.dismiss()
      M.current = cur
      accept_kind(kind)
    end,
  }) == true
end

local function schedule_trigger()
  if M.timer then
    M.timer:stop()
  end
  M.timer = M.timer or vim.uv.new_timer()
  M.timer:start(config.options.inline.debounce_ms, 0, vim.schedule_wrap(function()
    -- A suggestion that arrived (or was typed through) since then is kept.
    if vim.fn.mode() == "i" and not M.visible() then
      M.trigger({ automatic = true })
    end
  end))
end

---Insert-mode edits and cursor moves in the extmark path: keep the suggestion while the buffer follows it,
---otherwise drop it and (after an edit, with auto_trigger) ask again after debounce_ms.
local function on_edit(ev, edited)
  if native_for(ev.buf) then
    return
  end
  if M.current and M.current.buf == ev.buf then
    if M.refresh() then
      return
    end
  end
  if edited and config.options.inline.auto_trigger and commands.client(ev.buf) then
    schedule_trigger()
  end
end

local function feed(key)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(key, true, false, true), "n", false)
end

local function keymaps(opts)
  -- Plain (not expr) mappings: they may change the buffer at once, so the text is in before the next key.
  -- Each falls through to the key's own meaning when no suggestion is shown.
  local function map(key, kind, desc)
    if not key or key == "" then
      return
    end
    vim.keymap.set("i", key, function()
      local buf = vim.api.nvim_get_current_buf()
      if accept_kind(kind) then
        return
      end
      if native_for(buf) then
        if kind == "all" then
          if vim.lsp.inline_completion.get() then
            return
          end
        elseif native_partial(kind) then
          return
        end
      end
      feed(key)
    end, { desc = "instant-edit: " .. desc })
  end
  map(opts.accept_key, "all", "accept suggestion")
  map(opts.accept_word_key, "word", "accept the next word of the suggestion")
  map(opts.accept_line_key, "line", "accept the next line of the suggestion")
  if opts.dismiss_key and opts.dismiss_key ~= "" then
    vim.keymap.set("i", opts.dismiss_key, M.dismiss, { desc = "instant-edit: dismiss suggestion" })
  end
end

---Turn inline completion on for attached buffers (native client, or our extmark fallback).
function M.setup()
  local opts = config.options.inline
  if not opts.enabled then
    return
  end
  keymaps(opts)
  if M.native() and opts.native ~= false then
    vim.lsp.inline_completion.enable(true)
  end
  local group = vim.api.nvim_create_augroup("instant_edit_inline", { clear = true })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    callback = function(ev)
      cancel_pending()
      M.dismiss()
      release(ev.buf)
    end,
  })
  -- auto_trigger is read at each edit, so it can be changed without calling setup() again.
  vim.api.nvim_create_autocmd("TextChangedI", { group = group, callback = function(ev) on_edit(ev, true) end })
  vim.api.nvim_create_autocmd("CursorMovedI", { group = group, callback = function(ev) on_edit(ev, false) end })
end

return M
