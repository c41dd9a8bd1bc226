---:checkhealth instant_edit
local M = {}

local function check_command(cmd)
  local exe = cmd and cmd[1]
  if not exe then
    vim.health.error("`cmd` is empty", { "Set cmd = { 'instant-edit', 'serve' } in setup()" })
    return
  end
  if vim.fn.executable(exe) == 1 then
    vim.health.ok(("server command found: %s"):format(vim.fn.exepath(exe)))
  else
    vim.health.error(("server command not found: %s"):format(exe), {
      "Install the server: pip install instant-edit (or pip install -e . in a checkout)",
      "Or give its full path: require('instant_edit').setup({ cmd = { '/path/to/instant-edit', 'serve' } })",
    })
  end
end

function M.check()
  vim.health.start("instant-edit")
  if vim.fn.has("nvim-0.11") == 1 then
    vim.health.ok("Neovim " .. tostring(vim.version()))
  else
    vim.health.error("Neovim 0.11 or newer is needed (vim.lsp.config / vim.lsp.enable)")
  end
  local config = require("instant_edit.config")
  check_command(config.options.cmd)
  if vim.lsp.config[require("instant_edit.commands").NAME] == nil then
    vim.health.warn("setup() has not been called", { "Add require('instant_edit').setup({}) to your config" })
  end
  local clients = vim.lsp.get_clients({ name = "instant_edit" })
  if #clients == 0 then
    vim.health.info("no server running (it starts when you open a file)")
  else
    vim.health.ok(("server running (client id %d)"):format(clients[1].id))
  end
  local status = require("instant_edit.status")
  if status.state == "error" then
    vim.health.error("server reported: " .. status.line())
  else
    vim.health.info("server state: " .. status.line())
  end
  if not config.options.inline.enabled then
    vim.health.info("inline completion is off")
  else
    local o = config.options.inline
    local keys = ("accept with %s, a word with %s, a line with %s"):format(
      o.accept_key or "-", o.accept_word_key or "-", o.accept_line_key or "-")
    if require("instant_edit.inline").native() and o.native ~= false then
      vim.health.ok("inline completion: native vim.lsp.inline_completion; " .. keys)
    else
      vim.health.ok("inline completion: the plugin's ghost text (extmarks); " .. keys)
    end
  end
end

return M
