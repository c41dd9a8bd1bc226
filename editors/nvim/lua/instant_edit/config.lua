---Defaults and the merged user configuration.
local M = {}

M.defaults = {
  -- How to start the server; the first word must be on $PATH (or give a full path).
  cmd = { "instant-edit", "serve" },
  -- nil attaches to every filetype; give a list to restrict it.
  filetypes = nil,
  root_markers = { "instant-edit.toml", ".git" },
  -- Sent as initializationOptions (camelCase keys, as the server expects).
  server = {
    model = nil, -- checkpoint folder; nil = the embedded default
    device = "auto",
    threshold = 0.9,
    maxSteps = 0,
    contextTokens = 512,
    inlineCompletion = true,
    -- The gates (:help instant_edit-gates); nil keeps the server's measured defaults.
    regenerateFloor = nil, -- Regenerate offers nothing under this confidence (0 = off)
    completionFloor = nil, -- typing-triggered ghost text likewise; explicit requests always answer
    repairMargin = nil, -- Repair reopens a token only this many nats below the model's best alternative
    repairSpelling = nil, -- Repair first corrects misspelt words (server: true)
    spellingMargin = nil, -- ...when the model prefers the known word one keystroke away by this many nats (server: 2)
    -- Next edits (:help instant_edit-next); nil keeps the server's defaults.
    nextEditMargin = nil, -- a suggestion is kept when the recent edits move the new text by this many nats (server: -8)
    nextEditPauseMs = nil, -- the server prepares suggestions in the background after this pause
  },
  inline = {
    enabled = true,
    auto_trigger = true, -- ask while typing in insert mode (after debounce_ms)
    -- Short: the server answers what it already knows at once and debounces the rest itself, adapting to the
    -- typing speed and the model's latency (server setting completionDebounceMs).
    debounce_ms = 30,
    -- Each key falls through to its own meaning when no suggestion is shown; "" leaves it unmapped.
    -- copilot.vim: <Tab>, <M-Right> (word), <M-C-Right> (line); llama.vim: <Tab>, <C-B> (word), <S-Tab> (line).
    accept_key = "<Tab>", -- the whole suggestion
    accept_word_key = "<M-Right>", -- its next word; the rest stays shown
    accept_line_key = "<M-Down>", -- its next line; the rest stays shown
    dismiss_key = "<C-]>",
    -- Use vim.lsp.inline_completion where Neovim has it (0.12+); false: always the plugin's own ghost text.
    native = true,
    hl_group = "InstantEditGhost",
    -- Ghost text the model is unsure of (confidence under low_confidence) is drawn with this group instead.
    hl_group_low = "InstantEditGhostLow",
    low_confidence = 0.5,
  },
  -- Next-edit suggestions (instantEdit/nextEdits): asked after an edit and a pause, shown as a diff in place.
  next_edit = {
    enabled = true,
    pause_ms = 300, -- ask after this long without another change
    -- Normal mode; each key falls through to its own meaning when no suggestion is shown; false: unmapped.
    keymaps = {
      jump_accept = "<Tab>", -- jump to the nearest suggestion; on it: accept it
      dismiss = "<Esc>",
    },
    hl_old = "InstantEditNextOld", -- the text to be replaced (struck through)
    hl_new = "InstantEditNextNew", -- the new text (inline virtual text)
  },
  draft = { enabled = true, hl_group = "InstantEditDraft" },
  -- vim.notify on server state changes (loading / ready / error).
  notify_status = true,
  -- Extra vim.lsp.config fields (on_attach, capabilities, ...), merged last.
  lsp = {},
}

M.options = vim.deepcopy(M.defaults)

---Merge user options over the defaults.
---@param opts table|nil
---@return table
function M.set(opts)
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  return M.options
end

return M
