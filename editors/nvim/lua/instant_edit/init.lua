---instant-edit for Neovim 0.11+: rewrite code in place with a diffusion model served over LSP.
local config = require("instant_edit.config")
local commands = require("instant_edit.commands")

local M = {}

---Client capabilities: Neovim's own plus inline completion (0.11 does not advertise it).
local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion or { dynamicRegistration = false }
  return caps
end

---The vim.lsp.config table for the server.
function M.lsp_config(opts)
  local cfg = {
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    init_options = opts.server,
    capabilities = capabilities(),
    handlers = {
      ["instantEdit/draft"] = require("instant_edit.draft").handler,
      ["instantEdit/status"] = require("instant_edit.status").handler,
      ["instantEdit/confidence"] = require("instant_edit.status").confidence_handler,
    },
  }
  return vim.tbl_deep_extend("force", cfg, opts.lsp or {})
end

local function highlights()
  vim.api.nvim_set_hl(0, "InstantEditGhost", { default = true, link = "Comment" })
  vim.api.nvim_set_hl(0, "InstantEditGhostLow", { default = true, link = "DiagnosticUnnecessary" })
  vim.api.nvim_set_hl(0, "InstantEditDraft", { default = true, link = "DiffChange" })
end

---Configure and enable the server; safe to call again with new options.
---@param opts table|nil see :help instant_edit-config
function M.setup(opts)
  if vim.fn.has("nvim-0.11") == 0 then
    vim.notify("[instant-edit] needs Neovim 0.11 or newer", vim.log.levels.ERROR)
    return
  end
  opts = config.set(opts)
  highlights()
  vim.lsp.config(commands.NAME, M.lsp_config(opts))
  vim.lsp.enable(commands.NAME)
  commands.create()
  require("instant_edit.inline").setup()
  require("instant_edit.next_edit").setup()
end

---Short server state for a statusline, e.g. "ready: default on cpu".
function M.status()
  return require("instant_edit.status").line()
end

return M
