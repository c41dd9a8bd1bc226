---Server state from `instantEdit/status` notifications: notify and a statusline string.
local config = require("instant_edit.config")

local M = { state = "stopped", model = nil, device = nil, message = nil }

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
  return text
end

return M
