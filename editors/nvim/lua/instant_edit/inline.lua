---Inline completion (ghost text): native `vim.lsp.inline_completion` on Neovim 0.12+,
---otherwise `textDocument/inlineCompletion` requests shown with extmarks.
local config = require("instant_edit.config")
local commands = require("instant_edit.commands")

local M = { ns = vim.api.nvim_create_namespace("instant_edit_inline"), current = nil, pending = nil, timer = nil, seq = 0 }

---True when this Neovim has the built-in client for inline completion.
function M.native()
  return vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.enable ~= nil
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

---True when a suggestion is shown.
function M.visible()
  if M.native() then
    return false -- the native client draws and accepts its own
  end
  return M.current ~= nil and vim.api.nvim_buf_get_changedtick(M.current.buf) == M.current.tick
end

local function insert_text(item)
  local text = item.insertText
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

---The part of `text` not yet typed: what replaces `range` minus what already sits before the cursor.
local function ghost_of(buf, item, text, row, col, enc)
  if not item.range then
    return text
  end
  local line = vim.api.nvim_buf_get_lines(buf, row, row + 1, true)[1]
  local from = vim.str_byteindex(line, enc, item.range.start.character, false)
  local typed = item.range.start.line == row and line:sub(from + 1, col) or ""
  return vim.startswith(text, typed) and text:sub(#typed + 1) or text
end

---The highlight for ghost text: the low-confidence group when the server rated this completion unsure.
function M.hl_for(confidence)
  local opts = config.options.inline
  if type(confidence) == "number" and confidence < (opts.low_confidence or 0) then
    return opts.hl_group_low or opts.hl_group
  end
  return opts.hl_group
end

local function show(buf, row, col, ghost)
  local lines = vim.split(ghost, "\n", { plain = true })
  local c = require("instant_edit.status").confidence
  local hl = M.hl_for(c and c.confidence)
  local mark = { virt_text = { { lines[1], hl } }, virt_text_pos = "inline" }
  if #lines > 1 then
    mark.virt_lines = vim.tbl_map(function(l) return { { l, hl } } end, vim.list_slice(lines, 2))
  end
  vim.api.nvim_buf_set_extmark(buf, M.ns, row, col, mark)
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
  local ok, id = client:request("textDocument/inlineCompletion", params, function(err, result)
    if M.pending and M.pending.id == id then
      M.pending = nil
    end
    -- Drop answers overtaken by typing or by a newer request.
    if err then
      return finish(false, err.message)
    elseif seq ~= M.seq or vim.api.nvim_buf_get_changedtick(buf) ~= tick then
      return finish(false, "overtaken by typing or a newer request")
    end
    local item, text = first_item(result)
    if not item then
      return finish(false, "no suggestion")
    end
    local ghost = ghost_of(buf, item, text, row, col, enc)
    M.current = { buf = buf, row = row, col = col, item = item, text = text, tick = tick, client = client }
    show(buf, row, col, ghost)
    finish(true)
  end, buf)
  if ok then
    M.pending = { client = client, id = id }
  else
    finish(false, "the server is not running")
  end
end

---Insert the shown suggestion and put the cursor after it; returns true when something was inserted.
function M.accept()
  if not M.visible() then
    return false
  end
  local cur = M.current
  local enc = cur.client.offset_encoding
  local at = commands.position(cur.buf, cur.row, cur.col, enc)
  local range = cur.item.range or { start = at, ["end"] = at }
  M.dismiss()
  vim.lsp.util.apply_text_edits({ { range = range, newText = cur.text } }, cur.buf, enc)
  local lines = vim.split(cur.text, "\n", { plain = true })
  local start_line = vim.api.nvim_buf_get_lines(cur.buf, range.start.line, range.start.line + 1, true)[1]
  local start_col = vim.str_byteindex(start_line, enc, range.start.character, false)
  local end_row = range.start.line + #lines - 1
  local end_col = (#lines == 1 and start_col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  if cur.item.command then
    cur.client:exec_cmd(cur.item.command, { bufnr = cur.buf })
  end
  return true
end

local function schedule_trigger()
  if M.timer then
    M.timer:stop()
  end
  M.timer = M.timer or vim.uv.new_timer()
  M.timer:start(config.options.inline.debounce_ms, 0, vim.schedule_wrap(function()
    if vim.fn.mode() == "i" then
      M.trigger({ automatic = true })
    end
  end))
end

local function keymaps(opts)
  local accept, dismiss = opts.accept_key, opts.dismiss_key
  if accept and accept ~= "" then
    -- A plain (not expr) mapping: it may change the buffer at once, so the suggestion is in before the next key.
    vim.keymap.set("i", accept, function()
      if M.native() and vim.lsp.inline_completion.get() then
        return
      end
      if not M.accept() then
        vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(accept, true, false, true), "n", false)
      end
    end, { desc = "instant-edit: accept suggestion" })
  end
  if dismiss and dismiss ~= "" then
    vim.keymap.set("i", dismiss, M.dismiss, { desc = "instant-edit: dismiss suggestion" })
  end
end

---Turn inline completion on for attached buffers (native client, or our extmark fallback).
function M.setup()
  local opts = config.options.inline
  if not opts.enabled then
    return
  end
  keymaps(opts)
  if M.native() then
    vim.lsp.inline_completion.enable(true)
    return
  end
  local group = vim.api.nvim_create_augroup("instant_edit_inline", { clear = true })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    callback = function()
      cancel_pending()
      M.dismiss()
    end,
  })
  if opts.auto_trigger then
    vim.api.nvim_create_autocmd("TextChangedI", {
      group = group,
      callback = function(ev)
        M.dismiss()
        if commands.client(ev.buf) then
          schedule_trigger()
        end
      end,
    })
  end
end

return M
