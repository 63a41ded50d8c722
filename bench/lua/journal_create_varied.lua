-- args: invocation number, access token. Like journal_create.lua, but every entry's words differ
-- (a number in each sentence), so nothing the app keeps of recent texts can answer for them:
-- each request's sentences are read by the safety gate afresh.
local sent = 0

function init(args)
   block = (tonumber(args[1]) * 8 + id) % 256
   token = args[2]
end

function request()
   sent = sent + 1
   local n = tostring(block) .. "-" .. tostring(sent)
   local body = '{"title":"Evening ' .. n .. '","mood":"neutral","tags":["walks","bench"],'
      .. '"body":"<p>I walked ' .. n .. ' steps by the sea after work and felt '
      .. '<strong>calm</strong> for a while. Tomorrow at ' .. n .. ' I want to call my sister '
      .. 'and tell her about it.</p>"}'
   local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
   return wrk.format("POST", "/api/v1/journal/entries", headers, body)
end
