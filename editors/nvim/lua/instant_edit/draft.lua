---Shows the `instantEdit/draft` text as virtual lines below the range while a code action denoises.
local config = require("instant_edit.config")

local M = { ns = vim.api.nvim_create_namespace("instant_edit_draft"), seen = 0, last = nil }

local function bufnr_for(uri)
  local ok, buf = pcall(vim.uri_to_bufnr, uri)
  if ok and vim.api.nvim_buf_is_loaded(buf) then
    return buf
  end
end

---Clear any draft shown in a buffer.
function M.clear(buf)
  if vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  end
end

local function show(buf, params)
  local last_line = math.max(vim.api.nvim_buf_line_count(buf) - 1, 0)
  local row = math.min(params.range["end"].line, last_line)
  if params.range["end"].character == 0 and row > params.range.start.line then
    row = row - 1 -- a range ending at column 0 ends on the line above
  end
  local hl = config.options.draft.hl_group
  local lines = { { { ("instant-edit draft, step %d"):format(params.step or 0), "Comment" } } }
  for _, line in ipairs(vim.split(params.text or "", "\n", { plain = true })) do
    table.insert(lines, { { line, hl } })
  end
  M.clear(buf)
  vim.api.nvim_buf_set_extmark(buf, M.ns, row, 0, { virt_lines = lines })
end

---Handler for the `instantEdit/draft` notification.
function M.handler(_, params, _)
  if type(params) ~= "table" or not params.uri or not config.options.draft.enabled then
    return
  end
  if vim.in_fast_event() then
    return vim.schedule(function() M.handler(nil, params) end)
  end
  M.seen, M.last = M.seen + 1, params
  local buf = bufnr_for(params.uri)
  if not buf then
    return
  end
  if params.done then
    M.clear(buf)
  else
    show(buf, params)
  end
end

return M
