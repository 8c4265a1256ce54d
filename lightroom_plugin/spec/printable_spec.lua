-- Text.printable: a note naming the user's files on one line, escaped as autoretouch's command line escapes
-- it (backend/text.py printable).

require("sdk")

local Text = require("Text")

local printable = Text.printable

describe("Text.printable", function()
  it("escapes what the command line escapes (backend/text.py), as Python writes it", function()
    local cases = {
      { "a\nb\rc\td", "a\\nb\\rc\\td" },
      { "\0\1\27[2J\31\127", "\\x00\\x01\\x1b[2J\\x1f\\x7f" }, -- C0 controls and DEL
      { "x\194\133y\194\128\194\159", "x\\x85y\\x80\\x9f" }, -- C1 controls: U+0085 (NEL), U+0080, U+009F
      { "soft\194\173hyphen", "soft\\xadhyphen" }, -- U+00AD
      { "forged\226\128\168line\226\128\169", "forged\\u2028line\\u2029" }, -- line and paragraph separators
      { "\226\128\170\226\128\174\226\129\166\226\129\169", "\\u202a\\u202e\\u2066\\u2069" }, -- bidi
      { "\226\128\142\226\128\143\216\156", "\\u200e\\u200f\\u061c" }, -- LRM, RLM, Arabic letter mark
      { "zero\226\128\139width\239\187\191", "zero\\u200bwidth\\ufeff" }, -- U+200B, BOM
      { "tag\243\160\129\129\243\160\129\191", "tag\\U000e0041\\U000e007f" }, -- tag characters
      { "\243\160\128\129", "\\U000e0001" }, -- the language tag
      { "caf\237\179\169.jpg", "caf\\udce9.jpg" }, -- a surrogate's bytes (not UTF-8) as the CLI escapes U+DCE9
    }
    for _, case in ipairs(cases) do
      assert.are.equal(case[2], printable(case[1]))
    end
  end)

  it("leaves ordinary Unicode as it is: accents, CJK, emoji and their zero-width joiners", function()
    local texts = {
      "caf\195\169 \230\157\177\228\186\172 \240\159\152\128.jpg", -- é 東京 😀
      "\240\159\145\168\226\128\141\240\159\145\169\226\128\141\240\159\145\167", -- 👨‍👩‍👧 (ZWJ)
      "\224\164\149\224\165\141\226\128\140\224\164\183", -- Devanagari with a ZWNJ
      -- continuation bytes 0x80-0x9F (which %c would match in a Latin-1 locale): ā € 東 ※
      "\196\129 \226\130\172 \230\157\177 \226\128\187",
      "plain ASCII: !\"#$%&'()*+,-./0-9:;<=>?@A-Z[\\]^_`a-z{|}~",
      "",
    }
    for _, text in ipairs(texts) do
      assert.are.equal(text, printable(text))
    end
  end)

  it("leaves bytes that are not UTF-8 as they are", function()
    assert.are.equal("a\255b\192\128c\226\130", printable("a\255b\192\128c\226\130"))
  end)
end)
