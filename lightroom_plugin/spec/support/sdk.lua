--[[----------------------------------------------------------------------------
sdk.lua -- a stubbed Lightroom Classic SDK for the busted specs.

Requiring it defines the globals the plug-in runtime has (import, LOC, _PLUGIN,
WIN_ENV, MAC_ENV), puts the plug-in folder on package.path, and provides the
SDK namespaces as tables that keep their identity (modules capture them at
require time) while sdk.reset() puts fresh state behind them. `import` of a
namespace that is not stubbed raises an error naming it.

The default LrHttp talks to an in-memory fake daemon (sdk.daemon) that answers
like the real JSON bridge; the integration spec swaps in LuaSocket.
AutoretouchKeys (the generated whitelist) is generated here from the slider
catalog: $AUTORETOUCH_CATALOG_JSON (a file of `autoretouch sliders --json`)
or, when unset, by running `python3 -m backend sliders --json` in the repo.
------------------------------------------------------------------------------]]

local dkjson = require("dkjson")

local sdk = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)[/\\]") or "."
sdk.pluginDir = here .. "/../../autoretouch.lrplugin"
sdk.repoRoot = here .. "/../../.."
package.path = sdk.pluginDir .. "/?.lua;" .. here .. "/?.lua;" .. package.path

-- Globals of the plug-in runtime ----------------------------------------------

--- LOC: drops the "$$$/Key=" prefix and substitutes ^1, ^2, ...
function LOC(text, ...)
  local args = { ... }
  local out = text:gsub("^%$%$%$/[^=]*=", "")
  out = out:gsub("%^(%d)", function(d)
    local value = args[tonumber(d)]
    return value ~= nil and tostring(value) or ""
  end)
  return out
end

_PLUGIN = { id = "io.github.autoretouch.lightroom", path = sdk.pluginDir, enabled = true }
WIN_ENV = false
MAC_ENV = true

sdk.ns = {}

function import(name)
  local ns = sdk.ns[name]
  if not ns then
    error("SDK namespace not stubbed: " .. tostring(name), 2)
  end
  return ns
end

local function namespace(name, callable)
  local ns = {}
  if callable then
    setmetatable(ns, { __call = callable })
  end
  sdk.ns[name] = ns
  return ns
end

-- JSON helpers -----------------------------------------------------------------

function sdk.decode(text)
  local value, _, err = dkjson.decode(text, 1, nil, nil, nil)
  assert(err == nil, err)
  return value
end

sdk.encode = dkjson.encode

local function deepcopy(value)
  if type(value) ~= "table" then
    return value
  end
  local out = {}
  for k, v in pairs(value) do
    out[k] = deepcopy(v)
  end
  return out
end
sdk.deepcopy = deepcopy

local function leaf(path)
  return (tostring(path):match("[^/\\]+$"))
end

-- The slider catalog and the generated whitelist -------------------------------

local function loadCatalog()
  local path = os.getenv("AUTORETOUCH_CATALOG_JSON")
  local text
  if path and path ~= "" then
    local file = assert(io.open(path, "rb"))
    text = file:read("*a")
    file:close()
  else
    local python = os.getenv("PYTHON") or "python3"
    local pipe = assert(io.popen("cd '" .. sdk.repoRoot .. "' && " .. python .. " -m backend sliders --json"))
    text = pipe:read("*a")
    pipe:close()
  end
  local catalog = sdk.decode(text)
  assert(type(catalog) == "table" and catalog.sliders, "no slider catalog")
  return catalog
end

if not package.preload["spec.catalog"] then
  local catalog = loadCatalog()
  package.preload["spec.catalog"] = function()
    return catalog
  end
  package.preload["AutoretouchKeys"] = function()
    local Whitelist = require("Whitelist")
    local source = assert(Whitelist.render(catalog))
    return assert(loadstring(source, "=AutoretouchKeys"))()
  end
end

-- Yielding APIs never inside a write gate --------------------------------------
--
-- lightroom.md §4.2: "Do not call yielding APIs inside the function" of withWriteAccessDo. Whatever Lightroom
-- does with a photo call inside the gate (see "Tasks and yields": the fake models one possibility), the plug-in
-- must not call what the SDK documents as yielding there: LrHttp (every call waits for the network), LrDialogs
-- (modal), LrTasks.execute, LrTasks.sleep, LrTasks.yield. Those namespaces check each call: inside a write gate it
-- is recorded in sdk.gateViolations and raises (a write gate's per-photo LrTasks.pcall may catch the error, so
-- specs check the list too).

--- Raises (and records) when called inside a write gate.
function sdk.outsideWriteGate(what)
  if sdk.catalog and sdk.catalog.inWrite then
    sdk.gateViolations[#sdk.gateViolations + 1] = what
    error(what .. " yields: never call it inside withWriteAccessDo (lightroom.md section 4.2)", 3)
  end
end

--- Makes a namespace check the functions `which` names (true: all) with sdk.outsideWriteGate when called.
-- The functions live in a table behind the namespace, so assignments after this (sdk.reset, socket_http) count.
local function yieldingApis(ns, name, which)
  local inner = {}
  setmetatable(ns, {
    __newindex = inner,
    __index = function(_, key)
      local value = inner[key]
      if type(value) ~= "function" or not (which == true or which[key]) then
        return value
      end
      return function(...)
        sdk.outsideWriteGate(name .. "." .. key)
        return value(...)
      end
    end,
  })
  return ns
end

-- Namespaces -------------------------------------------------------------------

local LrHttp = yieldingApis(namespace "LrHttp", "LrHttp", true)
local LrTasks = yieldingApis(namespace "LrTasks", "LrTasks", { execute = true, sleep = true, yield = true })
local LrFunctionContext = namespace "LrFunctionContext"
local LrDialogs = yieldingApis(namespace "LrDialogs", "LrDialogs", true)
local LrPrefs = namespace "LrPrefs"
local LrApplication = namespace "LrApplication"
local LrView = namespace "LrView"
local LrBinding = namespace "LrBinding"
local LrPathUtils = namespace "LrPathUtils"
local LrFileUtils = namespace "LrFileUtils"
local LrStringUtils = namespace "LrStringUtils"

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- The `width` lowest bits of a number as "0"/"1" text, most significant first.
local function bits(value, width)
  local out = ""
  for i = width, 1, -1 do
    out = out .. (value % 2 ^ i - value % 2 ^ (i - 1) > 0 and "1" or "0")
  end
  return out
end

--- Base64 (RFC 4648) both ways, as LrStringUtils does.
function sdk.base64(data)
  return ((data:gsub(".", function(x)
    return bits(x:byte(), 8)
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then
      return ""
    end
    local c = tonumber(x, 2)
    return B64:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

function LrStringUtils.decodeBase64(text)
  text = text:gsub("[^" .. B64 .. "=]", "")
  return (text:gsub(".", function(x)
    if x == "=" then
      return ""
    end
    return bits(B64:find(x, 1, true) - 1, 6)
  end):gsub("%d%d%d?%d?%d?%d?%d?%d?", function(x)
    if #x ~= 8 then
      return ""
    end
    return string.char(tonumber(x, 2))
  end))
end

namespace("LrLogger", function(_, name)
  local logger = { name = name }
  local function record(level)
    return function(_, ...)
      local parts = {}
      for i = 1, select("#", ...) do
        parts[i] = tostring((select(i, ...)))
      end
      sdk.logs[#sdk.logs + 1] = { level = level, text = table.concat(parts, " ") }
    end
  end
  local function recordf(level)
    return function(_, format, ...)
      sdk.logs[#sdk.logs + 1] = { level = level, text = string.format(format, ...) }
    end
  end
  for _, level in ipairs { "trace", "debug", "info", "warn", "error", "fatal" } do
    logger[level] = record(level)
    logger[level .. "f"] = recordf(level)
  end
  function logger.enable() end
  function logger.disable() end
  return logger
end)

namespace("LrProgressScope", function(_, params)
  local scope = { params = params, portions = {}, captions = {}, checks = 0, isDone = false }
  function scope.setPortionComplete(self, done, total)
    self.portions[#self.portions + 1] = { done, total }
  end
  function scope.setCaption(self, caption)
    self.captions[#self.captions + 1] = caption
  end
  function scope.setCancelable(self, flag)
    self.cancelable = flag
  end
  function scope.setIndeterminate() end
  function scope.isCanceled(self)
    self.checks = self.checks + 1
    return sdk.isCanceled(self)
  end
  function scope.done(self)
    self.isDone = true
  end
  sdk.progressScopes[#sdk.progressScopes + 1] = scope
  return scope
end)

-- Tasks and yields -------------------------------------------------------------
--
-- In Lightroom a task (LrTasks.startAsyncTask) is a coroutine, and the SDK calls that wait (catalog and photo
-- reads and writes, withWriteAccessDo, LrHttp, LrTasks.sleep) yield it. The fake does the same: a task runs in a
-- coroutine that startAsyncTask drives to its end before it returns (a yield is resumed at once, as if Lightroom
-- had run other work meanwhile), and those calls yield (sdk.yieldPoint). So, as in Lightroom, Lua 5.1's plain
-- pcall around one of them fails ("attempt to yield across metamethod/C-call boundary"; Lightroom says "Yielding
-- is not allowed within a C or metamethod call"), and LrTasks.pcall, which lets the yield through, is needed.
-- Outside a task (a spec inspecting the fake) nothing yields.
--
-- Inside withWriteAccessDo this is an ASSUMPTION, untested in Lightroom Classic: by default (sdk.gateYields =
-- true) photo calls yield there too and the gate lets the yields through. lightroom.md §4.2 says only "Do not call
-- yielding APIs inside the function", so Lightroom may as well not yield in photo calls there and fail any yield
-- inside the gate; sdk.gateYields = false models that reading (photo and catalog calls inside the gate do not
-- yield, and the gate runs its function under a plain pcall, so any yield there fails). The plug-in must work
-- under both (spec/tasks_spec.lua), and never calls a documented yielding API inside a gate (see
-- "Yielding APIs never inside a write gate").

--- The coroutines that are tasks, or run inside one (LrTasks.pcall, a write gate's function).
local taskThreads = setmetatable({}, { __mode = "k" })

local function pack(...)
  return { n = select("#", ...), ... }
end

--- Whether the running code is inside a task.
function sdk.inTask()
  local co = coroutine.running()
  return co ~= nil and taskThreads[co] == true
end

--- What an SDK call that waits does: yields the task it runs in (nothing outside a task).
function sdk.yieldPoint()
  local inGate = sdk.catalog and sdk.catalog.inWrite
  if sdk.inTask() and (sdk.gateYields or not inGate) then
    coroutine.yield()
  end
end

--- Calls fn(...) in a coroutine of its own that passes its yields on to the task around it, as Lightroom's
-- LrTasks.pcall does. A yield then goes through the caller: inside a plain pcall it fails there.
-- @return true and fn's results, or false and the error
local function taskPcall(fn, ...)
  local co = coroutine.create(fn)
  taskThreads[co] = sdk.inTask()
  local result = pack(coroutine.resume(co, ...))
  while result[1] and coroutine.status(co) == "suspended" do
    coroutine.yield()
    result = pack(coroutine.resume(co))
  end
  return unpack(result, 1, result.n)
end
sdk.taskPcall = taskPcall

--- Runs fn(...) as a task to its end (each yield resumed at once); an error in it is raised here, with the
-- task's traceback.
-- @return fn's results
function sdk.runTask(fn, ...)
  local co = coroutine.create(fn)
  taskThreads[co] = true
  local result = pack(coroutine.resume(co, ...))
  while result[1] and coroutine.status(co) == "suspended" do
    result = pack(coroutine.resume(co))
  end
  if not result[1] then
    local err = result[2]
    error(type(err) == "string" and debug.traceback(co, err) or err, 0)
  end
  return unpack(result, 2, result.n)
end

function LrTasks.startAsyncTask(fn, name)
  sdk.tasks[#sdk.tasks + 1] = name or "?"
  sdk.runTask(fn)
end
LrTasks.pcall = taskPcall
function LrTasks.execute(command)
  sdk.executed[#sdk.executed + 1] = command
  sdk.yieldPoint()
  if sdk.onExecute then
    return sdk.onExecute(command)
  end
  return 0
end
function LrTasks.sleep(seconds)
  sdk.slept = sdk.slept + seconds
  if sdk.onSleep then
    sdk.onSleep(seconds)
  end
  sdk.yieldPoint()
end
LrTasks.yield = sdk.yieldPoint
LrTasks.canYield = sdk.inTask

--- A function context: cleanup handlers run when its function ends (returns or fails), failure handlers
-- before them when it fails, as Lightroom runs them.
local function newContext()
  local cleanups, failures = {}, {}
  local context = {}
  function context.addCleanupHandler(_, handler)
    cleanups[#cleanups + 1] = handler
  end
  function context.addFailureHandler(_, handler)
    failures[#failures + 1] = handler
  end
  function context.finish(_, ok, err)
    if not ok then
      for _, handler in ipairs(failures) do
        handler(false, err)
      end
    end
    for _, handler in ipairs(cleanups) do
      handler(ok, err)
    end
  end
  return context
end
--- Runs fn(context, ...) in a new function context, then its handlers.
local function withContext(fn, ...)
  local context = newContext()
  local result = pack(taskPcall(fn, context, ...))
  context:finish(result[1], result[2])
  if not result[1] then
    error(result[2], 0)
  end
  return unpack(result, 2, result.n)
end
function LrFunctionContext.callWithContext(_, fn, ...)
  return withContext(fn, ...)
end
function LrFunctionContext.postAsyncTaskWithContext(name, fn)
  LrTasks.startAsyncTask(function()
    withContext(fn)
  end, name)
end

function LrDialogs.message(message, info, style)
  sdk.dialogs[#sdk.dialogs + 1] = { kind = "message", message = message, info = info, style = style }
end
function LrDialogs.confirm(message, info, action, cancel, other)
  local record = { kind = "confirm", message = message, info = info, action = action, cancel = cancel, other = other }
  sdk.dialogs[#sdk.dialogs + 1] = record
  return sdk.confirmAnswer
end
function LrDialogs.presentModalDialog(args)
  sdk.dialogs[#sdk.dialogs + 1] = { kind = "modal", args = args }
  return sdk.modalHandler(args, sdk.lastProps)
end
function LrDialogs.showError(err)
  sdk.dialogs[#sdk.dialogs + 1] = { kind = "error", message = tostring(err) }
end

function LrPrefs.prefsForPlugin()
  return sdk.prefs
end

function LrApplication.activeCatalog()
  return sdk.catalog
end

function LrView.osFactory()
  return setmetatable({}, {
    __index = function(_, kind)
      return function(_, args)
        return { kind = kind, args = args or {} }
      end
    end,
  })
end
function LrView.bind(key)
  return { bind = key }
end
function LrView.share(name)
  return { share = name }
end

--- A property table like Lightroom's: plain fields plus addObserver(key, fn(props, key, value)), called on
-- every assignment of that key.
function LrBinding.makePropertyTable()
  local values, observers = {}, {}
  local props = setmetatable({}, {
    __index = function(_, key)
      if key == "addObserver" then
        return function(_, name, fn)
          observers[name] = observers[name] or {}
          table.insert(observers[name], fn)
        end
      end
      return values[key]
    end,
    __newindex = function(self, key, value)
      values[key] = value
      for _, fn in ipairs(observers[key] or {}) do
        fn(self, key, value)
      end
    end,
  })
  sdk.lastProps = props
  return props
end

function LrPathUtils.child(dir, name)
  return dir .. "/" .. name
end
function LrPathUtils.parent(path)
  return (path:match("^(.*)[/\\][^/\\]*$"))
end
LrPathUtils.leafName = leaf
--- Every standard folder ("temp" is the one the plug-in asks for) is the run's private temporary folder.
function LrPathUtils.getStandardFilePath()
  return sdk.tempDir
end

-- Files ------------------------------------------------------------------------
--
-- LrFileUtils works on the real file system (the plug-in writes its files with io.open), with two additions:
-- sdk.files names paths that exist on the fake machine only (path -> "file" or "directory", e.g. the
-- autoretouch program), and sdk.fileOps records every call ({ op, path }). delete removes a file or an empty
-- folder (a folder with files in it is refused), which is all the plug-in needs whatever Lightroom does there.

local function posixQuote(path)
  return "'" .. tostring(path):gsub("'", "'\\''") .. "'"
end

--- A private temporary folder for this run, removed with everything in it when the specs end.
do
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 700 " .. posixQuote(dir)) == 0, "cannot create " .. dir)
  sdk.tempDir = dir
  local remover = newproxy(true)
  getmetatable(remover).__gc = function()
    os.execute("rm -rf " .. posixQuote(dir))
  end
  sdk.tempDirRemover = remover
end

local function fileOp(op, path)
  sdk.fileOps[#sdk.fileOps + 1] = { op = op, path = path }
end

--- "directory", "file" or false, as LrFileUtils.exists says.
function sdk.exists(path)
  if sdk.files[path] then
    return sdk.files[path]
  end
  local dir = io.open(path .. "/.", "rb")
  if dir then
    dir:close()
    return "directory"
  end
  local file = io.open(path, "rb")
  if file then
    file:close()
    return "file"
  end
  return false
end

function LrFileUtils.exists(path)
  fileOp("exists", path)
  return sdk.exists(path)
end
function LrFileUtils.createAllDirectories(path)
  fileOp("createAllDirectories", path)
  local existed = sdk.exists(path) == "directory"
  os.execute("mkdir -p " .. posixQuote(path))
  return not existed and sdk.exists(path) == "directory"
end
function LrFileUtils.delete(path)
  fileOp("delete", path)
  local ok, err = os.remove(path)
  return ok == true, err
end
function LrFileUtils.readFile(path)
  fileOp("readFile", path)
  local file = io.open(path, "rb")
  if not file then
    return nil
  end
  local text = file:read("*a")
  file:close()
  return text
end

--- The names in a folder of the real file system (sorted).
function sdk.listDir(dir)
  local names = {}
  local pipe = assert(io.popen("ls -A " .. posixQuote(dir) .. " 2>/dev/null"))
  for name in pipe:lines() do
    names[#names + 1] = name
  end
  pipe:close()
  table.sort(names)
  return names
end

-- Catalog and photos -----------------------------------------------------------

--- A fake catalog holding the given photos (all selected; the first is the target photo). Its reads and
-- withWriteAccessDo yield inside a task, as Lightroom's do (see "Tasks and yields"); inside the gate that is
-- one possibility only (sdk.gateYields), untested in Lightroom Classic.
function sdk.newCatalog(photos)
  local catalog = { photos = photos or {}, writes = {}, inWrite = false, folders = {}, busy = false }
  catalog.target = catalog.photos[1]
  function catalog.getTargetPhotos(self)
    sdk.yieldPoint()
    return self.photos
  end
  function catalog.getTargetPhoto(self)
    sdk.yieldPoint()
    return self.target
  end
  function catalog.getFolders(self)
    sdk.yieldPoint()
    local out = {}
    for i, path in ipairs(self.folders) do
      out[i] = {
        getPath = function()
          return path
        end,
      }
    end
    return out
  end
  function catalog.withWriteAccessDo(self, name, fn, params)
    assert(not self.inWrite, "withWriteAccessDo calls cannot be nested")
    self.writes[#self.writes + 1] = { name = name, params = params }
    sdk.yieldPoint() -- waits for write access
    if self.busy then
      return "aborted"
    end
    self.inWrite = true
    -- the assumption (see "Tasks and yields"): yields inside the gate go through; else any yield there fails
    local ok, err
    if sdk.gateYields then
      ok, err = taskPcall(fn)
    else
      ok, err = pcall(fn)
    end
    self.inWrite = false
    if not ok then
      error(err, 0)
    end
    return "executed"
  end
  sdk.catalog = catalog
  return catalog
end

--- A fake photo: opts.path, opts.format ("JPG", "RAW", "VIDEO"), opts.failApply, opts.failMetadata,
-- opts.develop (its develop settings; applyDevelopSettings merges into them), opts.keeps (key -> value
-- Lightroom keeps whatever is sent), opts.noSnapshotApi (an SDK without develop snapshots).
-- Snapshots, develop settings and plug-in properties behave like Lightroom's: writes need the write gate, and
-- every read and write yields inside a task (see "Tasks and yields"), so a plain pcall around one fails there;
-- inside a write gate only while sdk.gateYields (one possibility, untested in Lightroom Classic).
function sdk.newPhoto(opts)
  local photo = { path = opts.path, applied = {}, develop = deepcopy(opts.develop or {}), snapshots = {}, properties = {} }
  local nextSnapshot = 0
  local function inWrite(what)
    assert(sdk.catalog and sdk.catalog.inWrite, what .. " called outside withWriteAccessDo")
    sdk.yieldPoint()
  end
  function photo.getDevelopSettings(self)
    sdk.yieldPoint()
    return deepcopy(self.develop)
  end
  function photo.getPropertyForPlugin(self, plugin, field)
    assert(plugin == _PLUGIN, "getPropertyForPlugin needs _PLUGIN")
    sdk.yieldPoint()
    return self.properties[field]
  end
  function photo.setPropertyForPlugin(self, plugin, field, value)
    assert(plugin == _PLUGIN, "setPropertyForPlugin needs _PLUGIN")
    inWrite "setPropertyForPlugin"
    self.properties[field] = value
  end
  if not opts.noSnapshotApi then
    function photo.getDevelopSnapshots(self)
      sdk.yieldPoint()
      local out = {}
      for i, snap in ipairs(self.snapshots) do
        out[i] = { snapshotID = snap.snapshotID, name = snap.name } -- Lightroom's record: snap.name, snap.snapshotID
      end
      return out
    end
    function photo.createDevelopSnapshot(self, name, updateInPlace)
      inWrite "createDevelopSnapshot"
      assert(updateInPlace == false, "the plug-in never updates a snapshot in place")
      nextSnapshot = nextSnapshot + 1
      local id = "snap-" .. nextSnapshot
      self.snapshots[#self.snapshots + 1] = { snapshotID = id, name = name, settings = deepcopy(self.develop) }
      return id
    end
    function photo.applyDevelopSnapshot(self, id)
      inWrite "applyDevelopSnapshot"
      for _, snap in ipairs(self.snapshots) do
        if snap.snapshotID == id then
          self.develop = deepcopy(snap.settings)
          return
        end
      end
      error("no snapshot " .. tostring(id))
    end
    function photo.deleteDevelopSnapshot(self, id)
      inWrite "deleteDevelopSnapshot"
      for i, snap in ipairs(self.snapshots) do
        if snap.snapshotID == id then
          table.remove(self.snapshots, i)
          return
        end
      end
      error("no snapshot " .. tostring(id))
    end
  end
  function photo.getRawMetadata(_, key)
    sdk.yieldPoint()
    if opts.failMetadata then
      error("metadata unavailable for " .. tostring(opts.path))
    end
    if key == "path" then
      return opts.path
    elseif key == "fileFormat" then
      return opts.format or "JPG"
    end
    return nil
  end
  function photo.getFormattedMetadata(_, key)
    sdk.yieldPoint()
    if key == "fileName" and opts.path then
      return leaf(opts.path)
    end
    return nil
  end
  function photo.applyDevelopSettings(self, settings, historyName)
    inWrite "applyDevelopSettings"
    if opts.failApply then
      error("Lightroom refused the settings of " .. tostring(opts.path), 0)
    end
    self.applied[#self.applied + 1] = { settings = deepcopy(settings), history = historyName }
    for key, value in pairs(settings) do
      self.develop[key] = deepcopy(value)
    end
    for key, value in pairs(opts.keeps or {}) do
      self.develop[key] = value
    end
  end
  return photo
end

--- Gives a fake photo a develop snapshot of its settings now, as if made earlier in Lightroom.
-- @return the snapshot's id
function sdk.addSnapshot(photo, name)
  local id = "snap-given-" .. (#photo.snapshots + 1)
  photo.snapshots[#photo.snapshots + 1] = { snapshotID = id, name = name, settings = deepcopy(photo.develop) }
  return id
end

--- A list of n photos /photos/img_1.jpg ... (paths under /photos).
function sdk.photos(n, opts)
  local list = {}
  for i = 1, n do
    local o = deepcopy(opts or {})
    o.path = o.path or string.format("/photos/img_%d.jpg", i)
    list[i] = sdk.newPhoto(o)
  end
  return list
end

-- The fake daemon behind the default LrHttp -----------------------------------

local function respond(status, data)
  return dkjson.encode(data), { status = status }
end

local function errorBody(status, code, message)
  return respond(status, { code = code, message = message, type = "Error", exit_code = 1, server_version = "test" })
end

--- The fake daemon's TrainStatus (see sdk.daemon.training).
function sdk.trainStatus()
  local t = sdk.daemon.training
  local total = 10
  local out = { server_version = "test", state = t.state, name = t.request and t.request.name or "" }
  if t.state == "running" or t.state == "cancelled" then
    out.last = { progress = { step = math.min(total, t.polls * 3), total_steps = total, phase = "training" } }
  elseif t.state == "finished" then
    out.last = {
      finished = { style = { name = out.name, loaded = true }, steps = total, rejected = t.rejected or "", notes = t.notes },
    }
  elseif t.state == "failed" then
    out.error = { code = "NOT_FOUND", message = t.failMessage or "none of the photos can be used" }
  end
  return out
end

--- Default settings for a photo: a couple of catalog keys plus a curve, like the translator's output.
function sdk.defaultSettings(path)
  local n = #path
  return {
    Exposure2012 = 0.25,
    Contrast2012 = n,
    ToneCurveName2012 = "Custom",
    ToneCurvePV2012 = { 0, 0, 128, 140, 255, 255 },
    ConvertToGrayscale = false,
  }
end

--- Records a request in sdk.requests (headers as a field -> value table); returns it and its path.
local function received(method, url, headers, body)
  local path = url:gsub("^%a+://[^/]+", "")
  local request = { method = method, url = url, path = path, body = body, headers = {} }
  for _, h in ipairs(headers or {}) do
    request.headers[h.field] = h.value
  end
  sdk.requests[#sdk.requests + 1] = request
  return request, path
end

--- What LrHttp returns when nothing listens (sdk.daemon.down).
local function connectionRefused()
  return nil, { error = { errorCode = "cannotConnectToHost", name = "connection refused" } }
end

--- Whether sdk.daemon.token is set and the request does not carry it.
local function wrongToken(request)
  local token = sdk.daemon.token
  if not token then
    return false
  end
  return request.headers["X-Autoretouch-Token"] ~= token
end

--- The daemon's answer to a wrong token.
local function unauthenticated()
  return errorBody(401, "UNAUTHENTICATED", "a valid token is required")
end

local function fakePost(url, body, headers)
  sdk.yieldPoint()
  local daemon = sdk.daemon
  local request, path = received("POST", url, headers, sdk.decode(body))
  if daemon.down then
    return connectionRefused()
  end
  if wrongToken(request) then
    return unauthenticated()
  end
  if request.headers["Content-Type"] ~= "application/json" then
    return errorBody(400, "INVALID_ARGUMENT", "POST bodies must be sent with 'Content-Type: application/json'")
  end
  local req = request.body
  if path == "/v1/suggest" then
    local fail = daemon.failPaths[req.path]
    if fail then
      return errorBody(fail.status or 404, fail.code or "NOT_FOUND", fail.message or (req.path .. ": no such file"))
    end
    local suggestions = {}
    for k = 1, math.max(1, tonumber(req.variants) or 1) do
      local settings = daemon.settingsFor(req.path, req.style, req.strength, k, req.mix)
      local relative = daemon.relativeFor and daemon.relativeFor(req.path, req.style, req.strength) or nil
      suggestions[k] = {
        recipe = { version = 1, steps = {}, style = req.style or "", strength = req.strength or 1, model = "" },
        lightroom_settings = settings,
        lightroom_relative = relative,
        lightroom_warnings = {},
        darktable_history = {},
      }
    end
    return respond(200, {
      server_version = "test",
      model_version = tostring(req.style) .. "@1",
      suggestions = suggestions,
      photo = { kind = "jpeg", is_raw = false, width = 64, height = 48, colour_note = "" },
    })
  elseif path == "/v1/preview" then
    if daemon.previewFails then
      return errorBody(404, "NOT_FOUND", daemon.previewFails)
    end
    local s = req.suggest or {}
    local variants = {}
    for k = 1, math.max(1, tonumber(s.variants) or 1) do
      local after = {}
      for i, strength in ipairs(req.strengths or {}) do
        after[i] = sdk.base64(string.format("JPEG variant %d at %.2f for %s", k, strength, tostring(s.path)))
      end
      variants[k] = { suggestion = {}, after = after }
    end
    return respond(200, {
      server_version = "test",
      before = sdk.base64("JPEG before " .. tostring(s.path)),
      strengths = req.strengths,
      variants = variants,
    })
  elseif path == "/v1/sidecars" then
    return daemon.sidecars(req), { status = 200 }
  elseif path == "/v1/train/start" then
    local t = daemon.training
    if t.refuse then
      return errorBody(t.refuse.status, t.refuse.code, t.refuse.message)
    end
    t.request, t.state, t.polls, t.cancelled = req, "running", 0, false
    return respond(200, sdk.trainStatus())
  elseif path == "/v1/train/cancel" then
    daemon.training.cancelled = true
    return respond(200, sdk.trainStatus())
  end
  return errorBody(404, "NOT_FOUND", "no such endpoint: POST " .. path)
end

local function fakeGet(url, headers)
  sdk.yieldPoint()
  local daemon = sdk.daemon
  local request, path = received("GET", url, headers)
  if daemon.down then
    return connectionRefused()
  end
  if path == "/healthz" then
    local status = daemon.health
    return respond(status == "SERVING" and 200 or 503, { status = status, server_version = "test" })
  end
  if wrongToken(request) then
    return unauthenticated()
  end
  if path:find("^/v1/train/status") then
    local t = daemon.training
    if t.state == "running" then
      t.polls = t.polls + 1
      if t.cancelled then
        t.state = "cancelled"
      elseif t.polls >= t.pollsToFinish then
        t.state = t.outcome
      end
    end
    return respond(200, sdk.trainStatus())
  end
  if path:find("^/v1/styles") then
    return respond(200, { server_version = "test", model_version = "", styles = daemon.styles, default_style = "default" })
  end
  return errorBody(404, "NOT_FOUND", "no such endpoint: GET " .. path)
end

--- Default NDJSON answer of /v1/sidecars: every path written, then the summary.
function sdk.sidecarStream(req)
  local lines = {}
  for i, path in ipairs(req.paths) do
    lines[#lines + 1] = dkjson.encode {
      server_version = "test",
      file = {
        index = i,
        total = #req.paths,
        photo = path,
        outcomes = { { photo = path, host = "HOST_LIGHTROOM", action = "SIDECAR_ACTION_WRITTEN", reason = "" } },
      },
    }
  end
  lines[#lines + 1] = dkjson.encode {
    summary = { photos = #req.paths, changed = #req.paths, skipped = 0, failed = 0, cancelled = false },
  }
  return table.concat(lines, "\n") .. "\n"
end

local function style(name)
  return { name = name, model = name .. "@1", version = 1, loaded = true, error = "", shadowed = false }
end

--- Puts fresh state behind every stub.
function sdk.reset()
  sdk.prefs = {}
  sdk.files = {}
  sdk.fileOps = {}
  sdk.dialogs = {}
  sdk.logs = {}
  sdk.tasks = {}
  sdk.executed = {}
  sdk.gateViolations = {}
  sdk.gateYields = true
  sdk.onExecute = nil
  sdk.onSleep = nil
  sdk.slept = 0
  sdk.progressScopes = {}
  sdk.isCanceled = function()
    return false
  end
  sdk.confirmAnswer = "cancel"
  sdk.lastProps = nil
  sdk.modalHandler = function()
    return "ok"
  end
  sdk.requests = {}
  sdk.daemon = {
    down = false,
    health = "SERVING",
    token = nil,
    styles = {
      style "default",
      style "warm",
      { name = "broken", loaded = false, error = "unreadable weights", shadowed = false },
      { name = "old", loaded = true, error = "", shadowed = true },
    },
    failPaths = {},
    settingsFor = sdk.defaultSettings,
    sidecars = sdk.sidecarStream,
    -- background training: state, the start request, status polls until `outcome` (finished/failed); `rejected`
    -- and `notes` (a list, or nil as an older daemon answers) go into its TrainFinished
    training = { state = "idle", polls = 0, pollsToFinish = 3, outcome = "finished" },
  }
  LrHttp.get = fakeGet
  LrHttp.post = fakePost
  sdk.setWindows(false)
  sdk.newCatalog {}
end

--- Pretends to run on Windows (WIN_ENV) or not.
function sdk.setWindows(flag)
  WIN_ENV = flag
  MAC_ENV = not flag
end

--- The records of a list whose `field` equals `value`, in order.
local function where(records, field, value)
  local out = {}
  for _, record in ipairs(records) do
    if record[field] == value then
      out[#out + 1] = record
    end
  end
  return out
end

--- Dialog records of one kind.
function sdk.dialogsOf(kind)
  return where(sdk.dialogs, "kind", kind)
end

--- Requests to one path.
function sdk.requestsTo(path)
  return where(sdk.requests, "path", path)
end

--- Every view element of a kind inside a view tree (depth first).
function sdk.find(view, kind, out)
  out = out or {}
  if type(view) ~= "table" then
    return out
  end
  if view.kind == kind then
    out[#out + 1] = view
  end
  for _, child in ipairs(view.args or view) do
    sdk.find(child, kind, out)
  end
  return out
end

--- Info.lua, run as Lightroom runs it (only LOC and string available).
function sdk.loadInfo()
  local chunk = assert(loadfile(sdk.pluginDir .. "/Info.lua"))
  setfenv(chunk, { LOC = LOC, string = string })
  return chunk()
end

sdk.reset()

return sdk
