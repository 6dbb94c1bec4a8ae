"""The Redis scripts' sources (realtime/backends/redis/lua.py): each carries the shared Lua
functions it calls, and only those (Redis runs the whole source on every call)."""

from __future__ import annotations

import re

from realtime.backends.redis.lua import compose
from realtime.backends.redis.scripts import SCRIPTS

DEFINED = re.compile(r"^local function (\w+)\(", re.MULTILINE)
LIBRARY = """local P = ARGV[1]
-- one
local function one() return 1 end
local function two()
  return one() + 1
end
-- unused
local function unused()
  return 0
end
local LIMIT = 3
"""


def test_a_script_takes_the_functions_it_calls_and_theirs_and_the_constants() -> None:
    source = compose(LIBRARY, "return two() + LIMIT\n")
    assert DEFINED.findall(source) == ["one", "two"]
    assert "local LIMIT = 3" in source and "local P = ARGV[1]" in source
    assert "unused" not in source
    assert source.index("function one") < source.index("function two")  # in their order


def test_every_script_defines_what_it_calls_and_little_else() -> None:
    for name, source in SCRIPTS.items():
        defined = set(DEFINED.findall(source))
        calls = set(re.findall(r"(?<![.:\w])(\w+)\(", source)) - {"function", "ipairs"}
        lua = {"tonumber", "tostring", "type", "pairs", "unpack", "error", "pcall"}
        assert calls - defined - lua <= {"read"}, (name, calls - defined - lua)
    assert "collect" not in DEFINED.findall(SCRIPTS["touch"])
    assert "collect" in DEFINED.findall(SCRIPTS["attach"])
