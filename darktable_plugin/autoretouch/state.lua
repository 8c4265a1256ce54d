--[[ autoretouch/state: the plug-in's state while darktable runs, shared by its modules ]]

--- running: a run is going on; registered: the actions are registered; exit_hooked: the "exit" event is;
--- daemon: the daemon in use, {server, port, own, pid, roots, log} (own: started by this plug-in, which alone
--- stops it; pid and roots only then), or nil; daemon_busy: a start is under way (another caller does not wait).
--: preview_made: copy id -> {index = its duplicate_index, mark = preview_mark when it was made} (this session's
--: copies; a copy's kept recipe holds its mark too).
local state = { running = false, registered = false, exit_hooked = false, daemon = nil, daemon_busy = false,
  preview_made = {} }

return state
