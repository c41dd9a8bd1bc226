-- What the headless Neovim scenarios share (nvim_scenario.lua, nvim_next_edit.lua): the JSON result written to
-- $IE_RESULT, waiting that yields to Neovim's main loop, typed keys, and running the scenario in a coroutine.
local M = { out = { steps = {} } }

function M.save()
  local f = assert(io.open(vim.env.IE_RESULT, "w"))
  f:write(vim.json.encode(M.out))
  f:close()
end

-- The scenario runs in a coroutine on Neovim's main loop, so typed keys (nvim_feedkeys) go through insert mode,
-- the plugin's mappings and autocommands as a user's would; waiting yields to the loop.
function M.sleep(ms)
  local co = coroutine.running()
  vim.defer_fn(function()
    local ok, err = coroutine.resume(co)
    if not ok then
      io.stderr:write("scenario coroutine: " .. tostring(err) .. "\n")
      vim.cmd("cquit 1")
    end
  end, ms)
  coroutine.yield()
end

function M.wait(ms, cond, what)
  local deadline = vim.uv.hrtime() + ms * 1e6
  while not cond() do
    if vim.uv.hrtime() > deadline then
      error("timed out after " .. ms .. " ms waiting for " .. what)
    end
    M.sleep(20)
  end
end

-- Keys as typed: through mappings (the plugin's <Tab>, <Esc>, <M-Right>, ...), processed when the scenario yields.
function M.press(keys)
  vim.api.nvim_feedkeys(vim.keycode(keys), "t", false)
  M.sleep(50)
  M.wait(2000, function() return vim.fn.getchar(1) == 0 end, "the typed keys to be processed")
end

function M.lines()
  return vim.api.nvim_buf_get_lines(0, 0, -1, true)
end

-- Run `main` in a coroutine; write the result (with the error and the LSP log's tail on failure), then quit:
-- :qall! on success, :cquit 1 on any error.
function M.start(main)
  local function run()
    local ok, err = xpcall(main, debug.traceback)
    if not ok then
      -- The LSP log tells why a server did not start or answer.
      local log = io.open(vim.lsp.get_log_path(), "r")
      M.out.failure = err .. (log and ("\nLSP log tail:\n" .. log:read("*a"):sub(-3000)) or "")
    end
    pcall(M.save)
    if ok then
      vim.cmd("qall!")
    else
      io.stderr:write(tostring(err) .. "\n")
      vim.cmd("cquit 1")
    end
  end

  local started, err = coroutine.resume(coroutine.create(run))
  if not started then
    io.stderr:write("scenario coroutine: " .. tostring(err) .. "\n")
    vim.cmd("cquit 1")
  end
end

return M
