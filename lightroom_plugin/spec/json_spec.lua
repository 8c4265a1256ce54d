-- Json: dkjson's decoding as the plug-in uses it (the daemon's JSON bridge answers).

local Json = require("Json")

local REPLACEMENT = "\239\191\189" -- U+FFFD

describe("Json.decode", function()
  it("decodes a lone surrogate (a file name that is not UTF-8, as autoretouch writes it) to U+FFFD", function()
    -- json.dump(os.fsdecode(b"caf\xe9.jpg")) in TrainFinished.notes: the rest of the answer is read as it is
    local finished = assert(Json.decode('{"notes": ["left out: caf\\udce9.jpg (empty file)"], "steps": 3}'))
    assert.are.same({ "left out: caf" .. REPLACEMENT .. ".jpg (empty file)" }, finished.notes)
    assert.are.equal(3, finished.steps)
    assert.are.equal(REPLACEMENT .. "x", Json.decode('"\\ud83dx"')) -- a high surrogate alone
    assert.are.equal(REPLACEMENT .. "A", Json.decode('"\\uD83D\\u0041"'))
    assert.are.same({ [REPLACEMENT] = { REPLACEMENT } }, Json.decode('{"\\udc80": ["\\udfff"]}')) -- keys too
    -- a surrogate pair is one character, and ordinary text stays as it is
    assert.are.equal("\240\159\152\128 caf\195\169 \230\157\177", Json.decode('"\\ud83d\\ude00 caf\\u00e9 \230\157\177"'))
    assert.are.equal("\237\159\191", Json.decode('"\\ud7ff"')) -- U+D7FF, just below the surrogates
  end)

  it("still refuses what is not JSON", function()
    local value, err = Json.decode('{"notes": [')
    assert.is_nil(value)
    assert.is_string(err)
  end)
end)
