-- Commands exist before setup() so :InstantEdit* gives a clear error instead of "not an editor command".
if vim.g.loaded_instant_edit then
  return
end
vim.g.loaded_instant_edit = true
require("instant_edit.commands").create()
