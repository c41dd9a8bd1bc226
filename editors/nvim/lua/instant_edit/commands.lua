---The editing commands: each sends `workspace/executeCommand`; the server applies the edit itself.
local M = { last_result = nil, withheld = nil }

M.NAME = "instant_edit"
M.LANGUAGES = { "python", "javascript", "typescript", "lua", "c", "cpp", "rust", "go", "java", "ruby", "bash" }

local function notify(msg, level)
  vim.notify("[instant-edit] " .. msg, level or vim.log.levels.INFO)
end

---The attached instant-edit client for a buffer, or nil.
function M.client(buf)
  return vim.lsp.get_clients({ bufnr = buf or 0, name = M.NAME })[1]
end

---The range a command acts on, as 0-based (row, byte col) pairs, end exclusive.
---A charwise visual selection keeps its columns; anything else covers whole lines.
---@param buf integer
---@param line1 integer 1-based first line
---@param line2 integer 1-based last line
---@param from_visual boolean|nil the command was given a range (an old selection must not count otherwise)
---@return integer[] start, integer[] finish
function M.selection(buf, line1, line2, from_visual)
  local s, e = vim.api.nvim_buf_get_mark(buf, "<"), vim.api.nvim_buf_get_mark(buf, ">")
  if from_visual and vim.fn.visualmode() == "v" and s[1] == line1 and e[1] == line2 then
    local last = vim.api.nvim_buf_get_lines(buf, e[1] - 1, e[1], true)[1]
    -- '> marks the first byte of the last character; include the whole character.
    local stop = math.min(#last, e[2] + vim.str_utf_end(last, e[2] + 1) + 1)
    return { s[1] - 1, s[2] }, { e[1] - 1, stop }
  end
  local last = vim.api.nvim_buf_get_lines(buf, line2 - 1, line2, true)[1]
  return { line1 - 1, 0 }, { line2 - 1, #last }
end

---An LSP position for a 0-based (row, byte col), in the client's position encoding.
function M.position(buf, row, col, encoding)
  local line = vim.api.nvim_buf_get_lines(buf, row, row + 1, true)[1]
  return { line = row, character = vim.str_utfindex(line, encoding, math.min(col, #line), false) }
end

---workspace/executeCommand arguments for a range: {uri, range, ...extra}.
function M.arguments(client, buf, start, finish, extra)
  local enc = client.offset_encoding
  local range = { start = M.position(buf, start[1], start[2], enc), ["end"] = M.position(buf, finish[1], finish[2], enc) }
  return { vim.tbl_extend("force", { uri = vim.uri_from_bufnr(buf), range = range }, extra or {}) }
end

---Run one instantEdit.* command on a range; `done(result)` is called with the server's answer.
---@param command string e.g. "instantEdit.repair"
---@param opts {buf?: integer, line1: integer, line2: integer, range?: integer, extra?: table, done?: fun(result: table|nil, err: table|nil)}
function M.run(command, opts)
  local buf = opts.buf or vim.api.nvim_get_current_buf()
  local client = M.client(buf)
  if not client then
    notify("no instant-edit server attached to this buffer (see :checkhealth instant_edit)", vim.log.levels.ERROR)
    return
  end
  local start, finish = M.selection(buf, opts.line1, opts.line2, (opts.range or 0) > 0)
  local params = { command = command, arguments = M.arguments(client, buf, start, finish, opts.extra) }
  client:request("workspace/executeCommand", params, function(err, result)
    M.last_result = { err = err, result = result }
    local anyway = type(result) == "table" and type(result.applyAnyway) == "table" and result.applyAnyway or nil
    if command ~= "instantEdit.applyAnyway" then
      M.withheld = anyway and { client = client, buf = buf, args = anyway } or nil
    end
    if err then
      notify(command .. " failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif type(result) == "table" and result.message and result.message ~= "" then
      local hint = anyway and ("\n:InstantEditApplyAnyway to " .. anyway.title:lower()) or ""
      local warn = result.flagged or (result.refused and result.refused ~= vim.NIL)
      notify(result.message .. hint, warn and vim.log.levels.WARN or vim.log.levels.INFO)
    end
    if opts.done then
      opts.done(result, err)
    end
  end, buf)
end

local function ranged(command, extra_of)
  return function(cmd)
    local extra = extra_of and extra_of(cmd)
    if extra == false then
      return
    end
    M.run(command, { line1 = cmd.line1, line2 = cmd.line2, range = cmd.range, extra = extra })
  end
end

---Apply the edit the server last refused (it does not parse, or the model rated it unlikely): only on request.
---@param done fun(result: table|nil, err: table|nil)|nil
function M.apply_anyway(done)
  local held = M.withheld
  if not held then
    notify("no refused edit to apply", vim.log.levels.WARN)
    if done then
      done(nil, { message = "no refused edit to apply" })
    end
    return
  end
  M.withheld = nil
  held.client:request("workspace/executeCommand", { command = "instantEdit.applyAnyway", arguments = { held.args } },
    function(err, result)
      M.last_result = { err = err, result = result }
      if err then
        notify("apply anyway failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      elseif type(result) == "table" and result.message then
        notify(result.message, vim.log.levels.WARN)
      end
      if done then
        done(result, err)
      end
    end, held.buf)
end

---Create the user commands (idempotent).
function M.create()
  local create = vim.api.nvim_create_user_command
  create("InstantEditApplyAnyway", function() M.apply_anyway() end,
    { desc = "instant-edit: apply the edit the server refused (does not parse / low confidence)" })
  create("InstantEdit", function(cmd)
    if cmd.args ~= "" then
      M.run("instantEdit.rewrite", { line1 = cmd.line1, line2 = cmd.line2, range = cmd.range,
                                     extra = { instruction = cmd.args } })
    else
      M.run("instantEdit.regenerate", { line1 = cmd.line1, line2 = cmd.line2, range = cmd.range })
    end
  end, { range = true, nargs = "*", desc = "instant-edit: regenerate the range, or rewrite it per [instruction]" })
  create("InstantEditNext", function() require("instant_edit.next_edit").command() end,
    { desc = "instant-edit: ask for next edits now and jump to the nearest" })
  create("InstantEditRepair", ranged("instantEdit.repair"), { range = true, desc = "instant-edit: repair the range" })
  create("InstantEditFill", ranged("instantEdit.fill"), { range = true, desc = "instant-edit: fill placeholders" })
  create("InstantEditTranslate", ranged("instantEdit.translate", function(cmd)
    if cmd.args == "" then
      notify("usage: :[range]InstantEditTranslate {language}", vim.log.levels.ERROR)
      return false
    end
    return { language = cmd.args }
  end), {
    range = true,
    nargs = 1,
    complete = function(lead)
      return vim.tbl_filter(function(l) return vim.startswith(l, lead) end, M.LANGUAGES)
    end,
    desc = "instant-edit: translate the range to {language}",
  })
end

return M
