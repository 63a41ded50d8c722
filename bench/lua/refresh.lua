-- args: invocation number, token file prefix (one file per thread, one token per line).
-- Each token is presented exactly once: a second use would (rightly) end its session.
local tokens = {}
local used = 0

function init(args)
   block = (tonumber(args[1]) * 8 + id) % 256
   for line in io.lines(args[2] .. "-" .. id .. ".txt") do
      tokens[#tokens + 1] = line
   end
end

function request()
   used = used + 1
   local token = tokens[used]
   if token == nil then
      exhausted = exhausted + 1
      token = "rt_token_pool_exhausted"
   end
   local headers = {["Content-Type"] = "application/json", ["X-Forwarded-For"] = client_address()}
   return wrk.format("POST", nil, headers, '{"refresh_token":"' .. token .. '"}')
end
