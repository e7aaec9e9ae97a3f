-- Cycles through a fixed tile list, the same for every server:
--   wrk ... -s tiles.lua URL -- TILE_LIST PATH_TEMPLATE
-- TILE_LIST has "z x y" lines; PATH_TEMPLATE has {z}, {x} and {y}.
local tiles, template = {}, nil
local next_tile = 1

init = function(args)
  for line in io.lines(args[1]) do
    local z, x, y = line:match("(%d+) (%d+) (%d+)")
    tiles[#tiles + 1] = { z, x, y }
  end
  template = args[2]
  -- Each thread starts elsewhere in the list.
  next_tile = (wrk.thread:get("offset") or 0) % #tiles + 1
end

setup = function(thread)
  thread:set("offset", math.random(1, 100000))
end

request = function()
  local t = tiles[next_tile]
  next_tile = next_tile % #tiles + 1
  local path = template:gsub("{z}", t[1]):gsub("{x}", t[2]):gsub("{y}", t[3])
  return wrk.format("GET", path)
end
