---Server state from `instantEdit/status` notifications: notify and a statusline string.
local config = require("instant_edit.config")

-- confidence: the last instantEdit/confidence params; confidences: how many arrived (a new one means a new answer).
local M = { state = "stopped", model = nil, device = nil, message = nil, confidence = nil, confidences = 0 }

local LEVEL = { loading = vim.log.levels.INFO, ready = vim.log.levels.INFO, error = vim.log.levels.ERROR }

---Handler for the `instantEdit/status` notification.
function M.handler(_, params, _)
  if type(params) ~= "table" then
    return
  end
  M.state, M.model, M.device, M.message = params.state, params.model, params.device, params.message
  if config.options.notify_status and params.state ~= "loading" then
    -- "loading" is frequent and short; only the outcome deserves a pop-up.
    vim.schedule(function()
      vim.notify("[instant-edit] " .. M.line(), LEVEL[params.state] or vim.log.levels.INFO)
    end)
  end
end

---Handler for `instantEdit/confidence`: how sure the model was of the last inline completion (or why it
---was withheld). Kept for the status line; nothing pops up while typing.
function M.confidence_handler(_, params, _)
  if type(params) ~= "table" then
    return
  end
  M.confidence = params
  M.confidences = M.confidences + 1
end

---Where the server took a completion from (`source` of instantEdit/confidence), as shown after its confidence.
M.SOURCES = {
  model = "model", -- computed by the model for this request
  cache = "cache", -- the same request answered before
  typed = "typed", -- the rest of a shown suggestion the user typed through
  prefetch = "prefetch", -- prepared in the background after an accept
}

---The last completion's confidence as a short text, e.g. "completion 0.42 (cache)" or
---"completion withheld (syntax, 0.40)"; the source is left out when the server does not send one.
---@return string|nil
function M.confidence_line()
  local c = M.confidence
  if not c then
    return nil
  end
  local value = type(c.confidence) == "number" and string.format("%.2f", c.confidence) or "-"
  local source = type(c.source) == "string" and c.source ~= "" and (M.SOURCES[c.source] or c.source) or nil
  if c.refused and c.refused ~= vim.NIL then
    return "completion withheld (" .. c.refused .. ", " .. value .. (source and (", " .. source) or "") .. ")"
  end
  return "completion " .. value .. (source and (" (" .. source .. ")") or "")
end

---One short line, e.g. "ready: default on cpu", for a statusline.
---@return string
function M.line()
  local text = M.state or "stopped"
  if M.model then
    text = text .. ": " .. M.model .. (M.device and (" on " .. M.device) or "")
  end
  if M.message and M.message ~= "" and M.state == "error" then
    text = text .. " (" .. M.message .. ")"
  end
  local confidence = M.confidence_line()
  if confidence then
    text = text .. " | " .. confidence
  end
  return text
end

return M
